"""Regenerate sample_data/: render every script to audio and write the call log (`callqa sample-data`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sample_data.call_log import build_call_log
from sample_data.scripted import DEFAULT_SCRIPTS_DIR, load_scripts
from sample_data.speech import RenderedCall, render_call


@dataclass(frozen=True)
class SampleData:
    """What :func:`render_sample_data` wrote."""

    out_dir: Path
    calls_csv: Path
    turn_times_csv: Path
    recordings: list[RenderedCall]
    log_rows: int


def render_sample_data(
    out_dir: Path,
    *,
    seed: int = 0,
    scripts_dir: Path | None = None,
    on_rendered: Callable[[RenderedCall], None] | None = None,
) -> SampleData:
    """Render every script to audio and write the call log, deterministically from ``seed``.

    Writes ``out_dir/recordings/<name>.opus`` (the corrupt one ``.wav``),
    ``out_dir/turn_times.csv`` (where each turn was placed), ``out_dir/calls.csv`` and, when
    the scripts come from elsewhere, a copy of them in ``out_dir/scripts``.

    Args:
        out_dir: where to write; ``sample_data/`` regenerates the shipped data in place.
        seed: seeds voices, pauses, line noise and the call log.
        scripts_dir: the scripts to render (default: the repository's ``sample_data/scripts``).
        on_rendered: called after each recording, e.g. to advance a progress bar.

    Raises:
        CallQAError: a script is invalid, or piper is not installed.
    """
    source = Path(scripts_dir) if scripts_dir is not None else DEFAULT_SCRIPTS_DIR
    calls = load_scripts(source)
    out_dir = Path(out_dir)
    scripts_out = out_dir / "scripts"
    if scripts_out.resolve() != source.resolve():
        scripts_out.mkdir(parents=True, exist_ok=True)
        for script in sorted(source.glob("*.yaml")):
            shutil.copyfile(script, scripts_out / script.name)
    recordings: list[RenderedCall] = []
    for call in calls:
        rendered = render_call(call, out_dir / "recordings", seed=seed)
        recordings.append(rendered)
        if on_rendered is not None:
            on_rendered(rendered)
    turn_times = pd.DataFrame(
        [
            {
                "name": r.name,
                "turn": t.turn,
                "speaker": t.speaker,
                "start_s": t.start_s,
                "end_s": t.end_s,
            }
            for r in recordings
            for t in r.turns
        ]
    )
    turn_times_csv = out_dir / "turn_times.csv"
    turn_times.to_csv(turn_times_csv, index=False)
    log = build_call_log(calls, {r.name: r.duration_s for r in recordings}, seed=seed)
    calls_csv = out_dir / "calls.csv"
    log.to_csv(calls_csv, index=False)
    return SampleData(out_dir, calls_csv, turn_times_csv, recordings, len(log))
