"""`make eval`: every tagging figure per split, with a 95% interval, rules alone and with the model.

The sets (docs/evaluation.md):
- the corpus (`eval/corpus/`), split by author: `train` (the model learns from it), `dev`
  (model choices and calibration), `test` (written by authors who never saw the rule packs
  or the model; scored once per release, never tuned on: `--errors` never shows it);
- `project`: the older sets written by the rule packs' own authors (`eval/tags.jsonl`,
  `eval/tags_fresh.jsonl`), trained on, so optimistic;
- `sample_data`: the labelled scripts of the demo calls;
- personal data: `pipeline.redact.evaluate_pii` on `eval/pii.jsonl`.

Usage: python eval/score.py [--json OUT] [--errors] [--reliability]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.corpus import LabelledCall, read_corpus  # noqa: E402
from pipeline.evaluation import GOALS, Figure, score  # noqa: E402
from pipeline.learned import MODEL_DIRNAME, load_embedder, load_model  # noqa: E402
from pipeline.tagging.decide import apply_model  # noqa: E402
from pipeline.tagging.nlp import load_pipeline  # noqa: E402
from pipeline.tagging.tagger import rule_views  # noqa: E402
from pipeline.tagging.tags import Tags, TextTurn  # noqa: E402
from pipeline.training import target_values  # noqa: E402
from pipeline.vocabulary import DEFAULT_MODELS_DIR  # noqa: E402


def corpus_calls() -> list[LabelledCall]:
    """The corpus's calls, each with its author's split; stops on a malformed line."""
    calls, wrong = read_corpus(ROOT / "eval" / "corpus")
    if wrong:
        raise SystemExit("\n".join(wrong))
    return calls


def sample_calls() -> list[LabelledCall]:
    from sample_data.scripted import load_scripts

    return [
        LabelledCall(
            call.name,
            "sample_data",
            "sample_data",
            "clean",
            tuple(TextTurn(t.speaker, t.text) for t in call.turns),
            call.labels.tag_labels(),
        )
        for call in load_scripts(ROOT / "sample_data" / "scripts")
        if call.labels is not None
    ]


def reliability(
    items: Sequence[LabelledCall], predicted: Sequence[Tags], bins: int = 10
) -> tuple[list[dict[str, float]], float]:
    """Predicted probability against observed frequency, over every labelled tag; and ECE."""
    pairs = [
        (p, value)
        for item, tags in zip(items, predicted, strict=True)
        for target, value in target_values(item.labels).items()
        if (p := tags.probabilities.get(target)) is not None
    ]
    if not pairs:
        return [], float("nan")
    probs = np.array([p for p, _ in pairs])
    truth = np.array([v for _, v in pairs])
    which = np.minimum((probs * bins).astype(int), bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            mean_p, observed = float(probs[inside].mean()), float(truth[inside].mean())
            rows.append(
                {"bin": b / bins, "n": int(inside.sum()), "predicted": mean_p, "observed": observed}
            )
            ece += inside.sum() / len(probs) * abs(mean_p - observed)
    return rows, float(ece)


def _print_table(title: str, columns: dict[str, dict[str, Figure]]) -> None:
    names = list(columns)
    n = next(iter(columns.values()))["primary_reason_accuracy"].n
    print(f"\n{title} ({n} calls)")
    print(f"{'figure':34}" + "".join(f"{name:>26}" for name in names) + f"{'goal':>7}")
    for key, goal in GOALS.items():
        cells = ""
        for name in names:
            figure = columns[name][key]
            mark = "*" if figure.value < goal else " "
            cells += f"{figure!s:>25}{mark}" if figure.n else f"{'-':>25} "
        print(f"{key:34}{cells}{goal:>7.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--errors", action="store_true", help="print each disagreement on the train split"
    )
    parser.add_argument(
        "--reliability", action="store_true", help="print the dev split's reliability curve"
    )
    args = parser.parse_args(argv)

    nlp = load_pipeline(learned=False)
    model = load_model(DEFAULT_MODELS_DIR / MODEL_DIRNAME)
    featuriser = model.featuriser(load_embedder()) if model else None
    every = corpus_calls() + sample_calls()
    sets = {
        split: [c for c in every if c.split == split]
        for split in ("train", "dev", "test", "sample_data")
    }
    sets["project (train)"] = [c for c in every if c.source == "project"]
    sets["train"] = [c for c in sets["train"] if c.source != "project"]
    print(f"model: {model.version if model else 'none (rules only)'}; * = below the goal")
    results: dict[str, dict[str, dict[str, Figure]]] = {}
    for name, items in sets.items():
        if not items:
            continue
        pairs = rule_views([c.turns for c in items], nlp)
        rules = [tags for tags, _ in pairs]
        columns = {"rules": score([c.labels for c in items], rules)}
        tagged = rules
        if model is not None and featuriser is not None:
            tagged = apply_model(pairs, model, featuriser)
            columns["rules + model"] = score([c.labels for c in items], tagged)
        results[name] = columns
        _print_table(name, columns)
        if name == "dev" and args.reliability and model is not None:
            _print_reliability(items, tagged)
        if name == "train" and args.errors:
            _print_errors(items, tagged)

    pii = _pii_metrics(ROOT / "eval" / "pii.jsonl")
    if pii is not None:
        _print_pii(pii)
    if args.json:
        out = {
            name: {
                column: {k: [f.value, f.low, f.high, f.n] for k, f in figures.items()}
                for column, figures in columns.items()
            }
            for name, columns in results.items()
        }
        args.json.write_text(json.dumps({"tags": out, "pii": pii}, indent=2) + "\n")
    return 0


def _print_reliability(items: Sequence[LabelledCall], tagged: Sequence[Tags]) -> None:
    curve, ece = reliability(items, tagged)
    print(f"\nreliability on dev (every tag; expected calibration error {ece:.3f})")
    for row in curve:
        print(
            f"  p in [{row['bin']:.1f}, {row['bin'] + 0.1:.1f}): n={row['n']:5d} "
            f"predicted {row['predicted']:.3f} observed {row['observed']:.3f}"
        )


def _print_errors(items: Sequence[LabelledCall], tagged: Sequence[Tags]) -> None:
    for item, tags in zip(items, tagged, strict=True):
        got = tags.to_json(item.id)
        diffs = {
            k: {"want": item.labels[k], "got": got[k]}
            for k in ("primary_reason", "avoidable_category", "complaint", "transferred")
            if k in item.labels and got[k] != item.labels[k]
        }
        if diffs:
            print(json.dumps({"id": item.id, "diffs": diffs}))


def _print_pii(pii: dict[str, Any]) -> None:
    print("\npersonal data (pipeline.redact.evaluate_pii on eval/pii.jsonl):")
    for split, figures in pii["splits"].items():
        if figures:
            print(
                f"  {split:5} "
                + "  ".join(
                    f"{group}: recall {figures[group]['recall']:.3f} "
                    f"precision {figures[group]['precision']:.3f}"
                    for group in ("structured", "names_addresses", "overall")
                    if isinstance(figures.get(group), dict) and "recall" in figures[group]
                )
            )


def _pii_metrics(path: Path) -> dict[str, Any] | None:
    from eval.pii import evaluate_pii

    return evaluate_pii(path) if path.exists() else None


if __name__ == "__main__":
    raise SystemExit(main())
