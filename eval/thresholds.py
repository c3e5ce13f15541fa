"""Choose the avoidable, contact reason, vulnerability and safeguarding thresholds on authors
the model has not seen.

The dev split holds too few safeguarding calls to tell recall at one threshold from another,
so the train authors are dealt into folds, each fold's calls are scored by a model fitted on
the other folds' authors (a new author is what the test split and a council's real callers
are), and the tags are given again at each threshold. The test split is never read here
(docs/evaluation.md).

Usage: python eval/thresholds.py [--folds 4]   (about 50 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from heldout import Held, held_out  # noqa: E402
from score import corpus_calls  # noqa: E402

from pipeline.evaluation import score  # noqa: E402
from pipeline.learned import TaggerModel  # noqa: E402
from pipeline.tagging.decide import (  # noqa: E402
    Verdict,
    given_avoidable,
    given_reasons,
    given_vulnerability,
)
from pipeline.tagging.nlp import load_pipeline  # noqa: E402
from pipeline.tagging.tagger import rule_views  # noqa: E402
from pipeline.tagging.tags import Tags  # noqa: E402
from pipeline.tagging.views import rule_decisions  # noqa: E402
from pipeline.training import threshold_for  # noqa: E402
from pipeline.vocabulary import Vocabulary, load_vocabulary  # noqa: E402

AVOIDABLE = (0.3, 0.35, 0.4, 0.45, 0.5)
REASONS = (0.3, 0.4, 0.5, 0.6)
VULNERABILITY = (0.3, 0.4, 0.5)
SAFEGUARDING = (0.1, 0.15, 0.2, 0.3)


def _at(model: TaggerModel, levels: dict[str, float]) -> TaggerModel:
    """`model` with the thresholds of the targets (or target families) in `levels`."""
    thresholds = np.array(
        [
            threshold_for(t, levels, old)
            for t, old in zip(model.targets, model.thresholds, strict=True)
        ]
    )
    return dataclasses.replace(model, thresholds=thresholds)


def _again(held: Held, model: TaggerModel, vocab: Vocabulary) -> Tags:
    """The held-out call's tags given again, as `apply_model` gives them, at `model`'s levels."""
    if not held.tags.probabilities:  # a call with no words keeps the rules' tags
        return held.tags
    verdict = Verdict(held.tags.probabilities, model, frozenset(rule_decisions(held.rules)))
    avoidable, category = given_avoidable(verdict, vocab)
    vulnerability, safeguarding = given_vulnerability(verdict, vocab)
    reasons = given_reasons(verdict, vocab, held.rules.contact_reasons)
    return dataclasses.replace(
        held.tags,
        contact_reasons=reasons,
        primary_reason=reasons[0],
        avoidable=avoidable,
        avoidable_category=category,
        vulnerability=vulnerability,
        safeguarding=safeguarding,
    )


def _table(
    held: list[Held], grid: list[dict[str, float]], keys: list[str], vocab: Vocabulary
) -> None:
    labels = [h.labels for h in held]
    print(f"\n{len(held)} calls; {', '.join(keys)}")
    for levels in grid:
        variants = {}
        tagged = []
        for h in held:
            if id(h.model) not in variants:
                variants[id(h.model)] = _at(h.model, levels)
            tagged.append(_again(h, variants[id(h.model)], vocab))
        figures = score(labels, tagged)
        shown = " ".join(f"{k} {v:.2f}" for k, v in levels.items())
        print(f"  {shown}: " + "  ".join(str(figures[k]) for k in keys), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=4, help="folds of train authors")
    args = parser.parse_args(argv)
    nlp = load_pipeline(learned=False)
    vocab = load_vocabulary()
    train = [c for c in corpus_calls() if c.split == "train"]
    held = held_out(train, rule_views([c.turns for c in train], nlp), args.folds)
    _table(
        held,
        [{"avoidable": a} for a in AVOIDABLE],
        ["avoidable_f1", "avoidable_category_accuracy"],
        vocab,
    )
    _table(
        held,
        [{"contact_reasons": r} for r in REASONS],
        ["reasons_micro_f1"],
        vocab,
    )
    _table(
        held,
        [{"vulnerability": v, "safeguarding": s} for v in VULNERABILITY for s in SAFEGUARDING],
        ["vulnerability_micro_f1", "safeguarding_recall", "safeguarding_precision"],
        vocab,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
