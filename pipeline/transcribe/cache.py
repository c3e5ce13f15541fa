"""The transcript cache: one JSON file per (audio bytes, model, layout, options, vocabulary)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.audio import AudioMetrics
from pipeline.files import atomic_write_bytes
from pipeline.transcribe.types import TranscribeOptions, Transcript, Turn, Word

__all__ = ["cache_key", "read_cached", "write_cached"]

#: Bump when a change to this package changes what a cached transcript would contain.
_CACHE_VERSION = 2


def cache_key(
    sha: str,
    model_id: str,
    compute_type: str,
    layout: str,
    options: TranscribeOptions,
    prompt: str | None,
    expected_duration_s: float | None = None,
    low_confidence: float | None = None,
) -> str:
    """The cache file's name: a hash of everything the transcript depends on.

    That includes the low-confidence threshold, because the cached transcript carries the
    judgement made with it and nothing downstream judges again.
    """
    material = json.dumps(
        {
            "expected_duration_s": expected_duration_s,
            "low_confidence": low_confidence,
            "version": _CACHE_VERSION,
            "audio_sha256": sha,
            "model": model_id,
            "compute_type": compute_type,
            "layout": layout,
            "options": dataclasses.asdict(options),
            "prompt": prompt,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def read_cached(cache_dir: Path, key: str, file: str) -> Transcript | None:
    """The cached transcript under `key` (its `file` set to this path), or None."""
    path = cache_dir / f"{key}.json"
    try:
        return _from_cache(json.loads(path.read_text(encoding="utf-8")), file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError):
        # A damaged cache entry is redone, not trusted.
        return None


def write_cached(cache_dir: Path, key: str, transcript: Transcript) -> None:
    """Store `transcript` under `key`, atomically (a reader never sees half a file)."""
    atomic_write_bytes(cache_dir / f"{key}.json", json.dumps(_to_cache(transcript)).encode())


def _to_cache(transcript: Transcript) -> dict[str, Any]:
    data = dataclasses.asdict(transcript)
    del data["cached"]
    return data


def _from_cache(data: dict[str, Any], file: str) -> Transcript:
    turns = [Turn(**{**t, "words": [Word(**w) for w in t["words"]]}) for t in data.pop("turns")]
    raw_metrics = data.pop("metrics")
    metrics = AudioMetrics(**raw_metrics) if raw_metrics else None
    return Transcript(**{**data, "file": file}, turns=turns, metrics=metrics, cached=True)
