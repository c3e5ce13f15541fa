"""callqa's rule packs and trained tagger, installed as the package data `callqa_models`.

The folder is a package only so that a wheel carries it and code finds it wherever it was
installed; a council's own copy is chosen with `CALLQA_MODELS_DIR` (or `--models`).
"""

from pathlib import Path

#: The folder holding the YAML rule packs, the ASR vocabulary and the trained tagger.
DIR = Path(__file__).resolve().parent
