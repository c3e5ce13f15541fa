"""Check and count the labelled corpus (pipeline/corpus.py reads it).

Authors write `calls/<author>/batch_NN.jsonl` from `briefs/` (how: `briefs/common.md`);
`authors.yaml` says which split each author's calls belong to.

Usage:
  python eval/corpus/build.py --check FILE...   # report malformed lines, exit 1 if any
  python eval/corpus/build.py                   # counts per split, author and label
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from pipeline.corpus import problems, read_corpus, read_lines  # noqa: E402
from pipeline.vocabulary import load_vocabulary  # noqa: E402


def _check(paths: list[Path]) -> int:
    vocab = load_vocabulary()
    bad = 0
    for path in paths:
        for number, call in read_lines(path):
            wrong = [str(call)] if isinstance(call, Exception) else problems(call, vocab)
            for message in wrong:
                print(f"{path}:{number}: {message}")
            bad += bool(wrong)
    print(f"{bad} malformed line(s)")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", nargs="+", type=Path, help="check these files only")
    args = parser.parse_args()
    if args.check:
        return _check(args.check)
    calls, wrong = read_corpus(HERE)
    for message in wrong:
        print(message, file=sys.stderr)
    for split in ("train", "dev", "test"):
        part = [c for c in calls if c.split == split]
        print(
            f"{split}: {len(part)} calls by {sorted({c.source for c in part})}; "
            f"asr {sum(c.style == 'asr' for c in part)}, "
            f"avoidable {sum(bool(c.labels.get('avoidable')) for c in part)}, "
            f"vulnerability {sum(bool(c.labels.get('vulnerability')) for c in part)}"
        )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
