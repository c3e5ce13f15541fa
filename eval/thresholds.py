"""Choose the vulnerability and safeguarding thresholds on authors the model has not seen.

The dev split holds too few safeguarding calls (about a dozen) to tell recall at one
threshold from another, so each train author's calls are scored by a model fitted on the
other train authors (leave one author out: a new author is what the test split and a
council's real callers are), and the vulnerability ids are given again at each pair of
thresholds. The test split is never read here (docs/evaluation.md).

Usage: python eval/thresholds.py   (about 10 minutes on 2 cores)
"""

from __future__ import annotations

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


def main() -> int:
    nlp = load_pipeline(learned=False)
    embedder = load_embedder()
    train = [c for c in corpus_calls() if c.split == "train"]
    pairs = rule_views([c.turns for c in train], nlp)
    authors = sorted({c.source for c in train if c.labels.get("vulnerability") is not None})
    scored: list[tuple[dict, Tags]] = []
    for author in authors:
        keep = [i for i, c in enumerate(train) if c.source != author]
        held = [i for i, c in enumerate(train) if c.source == author]
        model = fit([train[i] for i in keep], [pairs[i][1] for i in keep])
        tagged = apply_model([pairs[i] for i in held], model, model.featuriser(embedder))
        scored += [(train[i].labels, t) for i, t in zip(held, tagged, strict=True)]
        print(f"held out {author}: {len(held)} calls", flush=True)
    labels = [labels for labels, _ in scored]
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
