"""Choose the avoidable, vulnerability and safeguarding thresholds on authors the model has not
seen.

The dev split holds too few safeguarding calls to tell recall at one threshold from another,
so the train authors are dealt into folds, each fold's calls are scored by a model fitted on
the other folds' authors (a new author is what the test split and a council's real callers
are), and the tags are given again at each threshold. The test split is never read here
(docs/evaluation.md).

Usage: python eval/thresholds.py [--folds 4]   (about 10 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from score import corpus_calls  # noqa: E402

from pipeline.evaluation import score  # noqa: E402
from pipeline.learned import load_embedder  # noqa: E402
from pipeline.tagging.decide import apply_model  # noqa: E402
from pipeline.tagging.nlp import load_pipeline  # noqa: E402
from pipeline.tagging.tagger import rule_views  # noqa: E402
from pipeline.tagging.tags import SAFEGUARDING, Tags  # noqa: E402
from pipeline.training import fit  # noqa: E402

AVOIDABLE = (0.3, 0.35, 0.4, 0.45, 0.5)
VULNERABILITY = (0.2, 0.3, 0.4, 0.5)
SAFEGUARDING_IDS = (0.05, 0.1, 0.15, 0.2, 0.3)


def _given_again(tags: Tags, vulnerability: float, safeguarding: float) -> Tags:
    ids = [
        tag.removeprefix("vulnerability:")
        for tag, p in tags.probabilities.items()
        if tag.startswith("vulnerability:")
        and p
        >= (safeguarding if tag.removeprefix("vulnerability:") in SAFEGUARDING else vulnerability)
    ]
    return dataclasses.replace(
        tags,
        vulnerability=ids,
        safeguarding=bool(SAFEGUARDING & set(ids))
        or tags.probabilities.get("safeguarding", 0.0) >= safeguarding,
    )


def _avoidable_again(tags: Tags, threshold: float) -> Tags:
    avoidable = tags.probabilities["avoidable"] >= threshold
    category = None
    if avoidable:
        category = max(
            (p, tag.removeprefix("avoidable_category:"))
            for tag, p in tags.probabilities.items()
            if tag.startswith("avoidable_category:")
        )[1]
    return dataclasses.replace(tags, avoidable=avoidable, avoidable_category=category)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=4, help="folds of train authors")
    args = parser.parse_args(argv)
    nlp = load_pipeline(learned=False)
    embedder = load_embedder()
    train = [c for c in corpus_calls() if c.split == "train"]
    pairs = rule_views([c.turns for c in train], nlp)
    # The project's own sets (no vulnerability labels) are always trained on, never held out.
    authors = sorted({c.source for c in train if c.labels.get("vulnerability") is not None})
    scored: list[tuple[dict, Tags]] = []
    for fold in range(args.folds):
        out = set(authors[fold :: args.folds])
        keep = [i for i, c in enumerate(train) if c.source not in out]
        held = [i for i, c in enumerate(train) if c.source in out]
        model = fit([train[i] for i in keep], [pairs[i][1] for i in keep])
        tagged = apply_model([pairs[i] for i in held], model, model.featuriser(embedder))
        scored += [(train[i].labels, t) for i, t in zip(held, tagged, strict=True)]
        print(f"held out {sorted(out)}: {len(held)} calls", flush=True)
    labels = [labels for labels, _ in scored]
    print(f"\n{len(scored)} calls; avoidable F1, category accuracy")
    for a in AVOIDABLE:
        f = score(labels, [_avoidable_again(t, a) for _, t in scored])
        print(f"  avoidable {a:.2f}: {f['avoidable_f1']}  {f['avoidable_category_accuracy']}")
    print(f"\n{len(scored)} calls; vulnerability micro-F1, safeguarding recall, precision")
    for v in VULNERABILITY:
        for s in SAFEGUARDING_IDS:
            f = score(labels, [_given_again(t, v, s) for _, t in scored])
            print(
                f"  vulnerability {v:.2f} safeguarding {s:.2f}: "
                f"{f['vulnerability_micro_f1']}  {f['safeguarding_recall']}  "
                f"{f['safeguarding_precision']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
