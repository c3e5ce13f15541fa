"""The ASR vocabulary prompt: the council's words (models/) that steer Whisper's spelling."""

from __future__ import annotations

from pathlib import Path

from pipeline.vocabulary import DEFAULT_MODELS_DIR

__all__ = ["domain_prompt"]

#: Vocabulary terms in the decoding prompt, at most.
_PROMPT_TERMS = 40


def domain_prompt(models_dir: Path | None = None) -> str | None:
    """A short decoding prompt naming the council's vocabulary, or None if there is none.

    Terms come from models/asr_vocabulary.txt (one per line, # comments; the council's name
    first) and the labels in models/taxonomy.yaml. Whisper reads the prompt as earlier text
    of the conversation, so a plain list of the words callers and agents use steers spelling
    (the borough's name, council tax, Blue Badge) without inventing them.
    """
    folder = models_dir or DEFAULT_MODELS_DIR
    terms: list[str] = []
    vocab = folder / "asr_vocabulary.txt"
    if vocab.is_file():
        for line in vocab.read_text(encoding="utf-8").splitlines():
            term = line.split("#", 1)[0].strip()
            if term:
                terms.append(term)
    terms.extend(_taxonomy_labels(folder / "taxonomy.yaml"))
    seen: set[str] = set()
    unique = []
    for term in terms:
        if term.lower() not in seen and term.lower() != "other":
            seen.add(term.lower())
            unique.append(term)
    if not unique:
        return None
    # Whisper allows up to 223 prompt tokens, but a long list dilutes the first (most
    # important) terms and slows decoding.
    return "Council contact centre call. " + ", ".join(unique[:_PROMPT_TERMS]) + "."


def _taxonomy_labels(path: Path) -> list[str]:
    if not path.is_file():
        return []
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        # The tagging step reports a broken rule pack; transcription just goes without it.
        return []
    labels: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            label = node.get("label")
            if isinstance(label, str):
                labels.append(label)
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return labels
