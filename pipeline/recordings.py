"""Recording paths from the call log: resolved safely inside the recordings folder, or refused.

The one input-path check: the nightly screening and the review app both read audio through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RecordingCheck", "resolve_recording"]


@dataclass(frozen=True)
class RecordingCheck:
    """Where a call's recording is, or why it may not be read (then `path` is None)."""

    path: Path | None
    reason: str | None


def resolve_recording(recordings: Path, relative: str | None) -> RecordingCheck:
    """The call log's recording path, resolved safely inside the recordings folder.

    The call log is outside input, so a path is refused when it is empty, holds a NUL, is
    absolute, climbs out with `..`, or resolves (through symlinks) outside `recordings`; a
    path that is fine but names no file is reported as missing.
    """
    if relative is None or not str(relative).strip():
        return RecordingCheck(None, "not recorded: the call log has no recording path")
    text = str(relative)
    if "\x00" in text:
        return RecordingCheck(None, "refused recording path: it contains a NUL character")
    candidate = Path(text)
    if not candidate.parts or candidate == Path("."):
        return RecordingCheck(None, f"refused recording path: {text[:80]!r} names no file")
    if candidate.is_absolute() or text.startswith(("/", "\\")) or ":" in candidate.parts[0]:
        return RecordingCheck(
            None,
            "refused recording path: absolute paths are not allowed (use a path relative "
            "to the recordings folder)",
        )
    if ".." in candidate.parts or ".." in text.replace("\\", "/").split("/"):
        return RecordingCheck(
            None, "refused recording path: `..` would leave the recordings folder"
        )
    try:
        root = Path(recordings).resolve()
        resolved = (root / candidate).resolve()
        inside = resolved.is_relative_to(root)
        is_file = inside and resolved.is_file()
    except (OSError, RuntimeError) as exc:
        # Too long a name, a symlink loop, a permission problem: say so, never crash the night.
        return RecordingCheck(None, f"refused recording path: {type(exc).__name__}: {exc}"[:300])
    if not inside:
        return RecordingCheck(
            None,
            "refused recording path: it resolves (through a link) outside the recordings folder",
        )
    if not is_file:
        return RecordingCheck(
            None, f"recording missing: {text[:200]} is not a file in the recordings folder"
        )
    return RecordingCheck(resolved, None)
