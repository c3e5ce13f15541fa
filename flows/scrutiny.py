"""`scrutiny_sample`: a seeded random sample of scored calls, packed for councillors.

    choose-calls   the seeded draw from the period's scorecards; pseudonyms   (one task)
    pack-<Call n>  one page + silenced audio per call                         (per call)
    write-index    index.html and index.csv                                   (one task)
    write-manifest pack.parquet: call ids of pages and audio, for the review app (one task)

Tasks pass call ids and pseudonyms only; pages are written by the pipeline functions.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.tasks import pipeline_task
from pipeline.config import Settings
from pipeline.report import (
    ScrutinyCall,
    choose_scrutiny_calls,
    write_scrutiny_index,
    write_scrutiny_manifest,
    write_scrutiny_page,
)

__all__ = ["run_scrutiny_sample", "scrutiny_sample"]

_choose = pipeline_task(choose_scrutiny_calls, "choose-calls")
_page = pipeline_task(write_scrutiny_page, "pack", task_run_name="pack-{call.label}")
_index = pipeline_task(write_scrutiny_index, "write-index")
_manifest = pipeline_task(write_scrutiny_manifest, "write-manifest")


@flow(name="scrutiny-sample", task_runner=ThreadPoolTaskRunner(max_workers=2), persist_result=False)
def scrutiny_sample(
    out: str,
    start: str,
    end: str,
    size: int,
    pack: str,
    seed: int = 0,
    recordings: str | None = None,
) -> str:
    """Write a scrutiny pack for `start`..`end` (YYYY-MM-DD) to `pack`; returns its index page."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    folder = Path(pack)
    sources = Path(recordings) if recordings else Settings().recordings_dir
    calls: list[ScrutinyCall] = _choose(Path(out), first, last, size, seed)
    futures = [_page.submit(Path(out), sources, folder, c) for c in calls]
    rows: list[dict[str, Any]] = [f.result() for f in futures]
    _manifest(folder, calls)
    return str(_index(folder, rows, start=first, end=last))


def run_scrutiny_sample(
    out: Path,
    start: date,
    end: date,
    size: int,
    pack: Path,
    *,
    seed: int = 0,
    recordings: Path | None = None,
) -> Path:
    """Run `scrutiny_sample` now (what `callqa scrutiny-sample` calls); returns index.html."""
    index = scrutiny_sample(
        out=str(out),
        start=start.isoformat(),
        end=end.isoformat(),
        size=size,
        pack=str(pack),
        seed=seed,
        recordings=None if recordings is None else str(recordings),
    )
    return Path(index)
