"""Scale-out: a night on a real Dask LocalCluster (2 worker processes) equals the thread runner's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import SAMPLE_CALLS, SAMPLE_RECORDINGS

from pipeline import store
from sample_data.scripted import DEMO_DATE

pytestmark = pytest.mark.timeout(600)


def _cards(out: Path) -> pd.DataFrame:
    cards = store.read_table(out, store.SCORECARDS).drop(columns=["run_id"])
    return cards.sort_values("call_id").reset_index(drop=True)


def test_dask_night_equals_thread_night(sample_night, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster

    from flows.nightly import CACHE_DIR, run_nightly

    out, settings, seed, _ = sample_night
    dask_out = tmp_path / "out"
    # Reuse all but two transcripts: the workers still load Whisper and transcribe for real,
    # and the test stays short.
    cache = dask_out / CACHE_DIR
    cache.mkdir(parents=True)
    for entry in sorted((out / CACHE_DIR).glob("*.json"))[:-2]:
        shutil.copy2(entry, cache / entry.name)
    # Worker processes inherit os.environ, where the session's Prefect server URL is set.
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            local_directory=str(tmp_path / "dask"),
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        summary = run_nightly(
            SAMPLE_CALLS,
            SAMPLE_RECORDINGS,
            dask_out,
            date=DEMO_DATE,
            sample_size=6,
            seed=seed,
            task_runner="dask",
            dask_address=cluster.scheduler_address,
            settings=settings.model_copy(update={"cpu_threads": 1}),
            show_progress=False,
        )
        # Each worker process did per-call work (and so loaded its own models).
        assert len(client.scheduler_info()["workers"]) == 2
    assert summary.sampled == 6
    pd.testing.assert_frame_equal(_cards(dask_out), _cards(out))
    for table in ("transcripts", "failures"):
        left = store.read_table(dask_out, table).drop(columns=["run_id"], errors="ignore")
        right = store.read_table(out, table).drop(columns=["run_id"], errors="ignore")
        pd.testing.assert_frame_equal(left, right)
