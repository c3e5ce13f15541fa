"""Score the tagger on train authors held out in folds, as it meets a new council's callers.

A new author is what the test split, and a council's callers, are.

The train authors are dealt into folds and each fold's calls are tagged by a model fitted on
the other folds' authors, with the rule packs in `--models`. `--targets avoidable` fits only
the avoidable and category models (the other tags keep the rules' decisions), enough to score
an edit to avoidable.yaml in about 12 minutes on 2 cores; `--targets reasons` likewise for the
contact reasons, in about 60 minutes. The dev split is too small to tell such an edit from
noise (two authors), and the test split is never read here (docs/evaluation.md).

Usage: python eval/heldout.py [--models DIR] [--targets avoidable|reasons|all] [--folds 4]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from score import corpus_calls  # noqa: E402

from pipeline.corpus import LabelledCall  # noqa: E402
from pipeline.evaluation import GOALS, score  # noqa: E402
from pipeline.learned import CallView, TaggerModel, load_embedder  # noqa: E402
from pipeline.tagging.decide import apply_model  # noqa: E402
from pipeline.tagging.nlp import load_pipeline  # noqa: E402
from pipeline.tagging.tagger import rule_views  # noqa: E402
from pipeline.tagging.tags import Tags  # noqa: E402
from pipeline.training import fit, targets  # noqa: E402
from pipeline.vocabulary import DEFAULT_MODELS_DIR  # noqa: E402

#: Which models each `--targets` fits, and the figures it prints.
TARGETS = {
    "avoidable": (
        ("avoidable", "avoidable_category:"),
        ("avoidable_f1", "avoidable_category_accuracy"),
    ),
    "reasons": (
        ("contact_reasons:", "primary_reason:"),
        ("reasons_micro_f1", "primary_reason_accuracy"),
    ),
    "all": (("",), tuple(GOALS)),
}


class Held(NamedTuple):
    """One held-out call: its labels, the rules' tags, and the model's tags and model."""

    labels: Mapping[str, Any]
    rules: Tags
    tags: Tags
    model: TaggerModel


def held_out(
    train: Sequence[LabelledCall],
    pairs: Sequence[tuple[Tags, CallView]],
    folds: int = 4,
    only: Collection[str] | None = None,
) -> list[Held]:
    """Each train author's calls tagged by a model fitted without that author's fold.

    The project's own sets (no vulnerability labels) are always trained on, never held out.
    """
    embedder = load_embedder()
    authors = sorted({c.source for c in train if c.labels.get("vulnerability") is not None})
    held: list[Held] = []
    for fold in range(folds):
        out = set(authors[fold::folds])
        keep = [i for i, c in enumerate(train) if c.source not in out]
        rows = [i for i, c in enumerate(train) if c.source in out]
        model = fit([train[i] for i in keep], [pairs[i][1] for i in keep], only=only)
        tagged = apply_model([pairs[i] for i in rows], model, model.featuriser(embedder))
        held += [
            Held(train[i].labels, pairs[i][0], t, model) for i, t in zip(rows, tagged, strict=True)
        ]
        print(f"held out {sorted(out)}: {len(rows)} calls", flush=True)
    return held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS_DIR, help="rule packs")
    parser.add_argument("--targets", choices=sorted(TARGETS), default="avoidable")
    parser.add_argument("--folds", type=int, default=4, help="folds of train authors")
    args = parser.parse_args(argv)
    prefixes, keys = TARGETS[args.targets]
    nlp = load_pipeline(args.models, learned=False)
    train = [c for c in corpus_calls() if c.split == "train"]
    pairs = rule_views([c.turns for c in train], nlp)
    only = [t for t in targets() if t.startswith(prefixes)]
    held = held_out(train, pairs, args.folds, only)
    figures = score([h.labels for h in held], [h.tags for h in held])
    print(f"\n{len(held)} held-out calls; rule packs in {args.models}")
    for key in keys:
        print(f"  {key}: {figures[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
