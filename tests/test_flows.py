"""The Prefect flows end to end on sample_data: real Whisper, spaCy, Parquet and Prefect server.

One small night (6 calls) is screened once for the session (conftest `sample_night`); re-runs,
a SIGKILLed run, the scrutiny pack and the monthly report build on it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import HASH_KEY, SAMPLE_CALLS, SAMPLE_RECORDINGS, SAMPLE_SCRIPTS

from pipeline import store
from sample_data.scripted import DEMO_DATE, ScriptedCall, load_scripts

pytestmark = pytest.mark.timeout(600)

# The flows' per-call cache location, relative to --out.
CACHE = Path("restricted") / ".cache"


def _scripts_by_recording() -> dict[str, ScriptedCall]:
    return {s.recording: s for s in load_scripts(SAMPLE_SCRIPTS)}


def _pii_values() -> list[str]:
    return sorted({p.value for s in load_scripts(SAMPLE_SCRIPTS) if s.labels for p in s.labels.pii})


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


def _readable(path: Path) -> str:
    """A file's content as text a person would read: Parquet decoded, anything else raw."""
    if path.suffix == ".parquet":
        return json.dumps(pq.read_table(path).to_pylist(), default=str)
    return path.read_bytes().decode("utf-8", errors="ignore")


def _leaks(folders: list[Path], skip: Path | None) -> dict[str, list[str]]:
    values = [_squash(v) for v in _pii_values()]
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if not path.is_file() or (skip is not None and path.is_relative_to(skip)):
                continue
            # Prefect's ids are UUIDs, and a digit run inside a longer one is not the value.
            text = _UUID.sub(" ", _squash(_readable(path)))
            hits = [v for v in values if re.search(rf"(?<!\d){re.escape(v)}(?!\d)", text)]
            if hits:
                found[str(path)] = hits
    return found


def _cards(out: Path) -> pd.DataFrame:
    cards = store.read_table(out, store.SCORECARDS).drop(columns=["run_id"])
    return cards.sort_values("call_id").reset_index(drop=True)


def test_every_sampled_call_scored_or_failed_once(sample_night) -> None:  # type: ignore[no-untyped-def]
    out, _, _, summary = sample_night
    manifest = store.read_table(out, store.SAMPLES)
    cards = store.read_table(out, store.SCORECARDS)
    failures = store.read_table(out, store.FAILURES)
    assert len(manifest) == summary.sampled == 6
    assert cards["call_id"].is_unique and failures["call_id"].is_unique
    assert sorted([*cards["call_id"], *failures["call_id"]]) == sorted(manifest["call_id"])
    assert summary.scored == len(cards) and summary.failed == len(failures)
    # An unsafe path is refused, never opened.
    refused = failures[failures["stage"] == "recording"]
    assert not refused.empty and refused["reason"].str.contains("refused").all()
    # Transcripts hold one row per turn of the scored calls only.
    turns = store.read_table(out, store.TRANSCRIPTS)
    assert set(turns["call_id"]) <= set(cards["call_id"])
    assert not turns.duplicated(["call_id", "turn"]).any()
    assert set(cards["pipeline_version"]) and cards["qa_score"].between(0, 100).all()


def test_repeat_callers_and_reasons_match_the_scripts(sample_night) -> None:  # type: ignore[no-untyped-def]
    out, _, _, _ = sample_night
    scripts = _scripts_by_recording()
    cards = store.read_table(out, store.SCORECARDS)
    checked = 0
    for card in cards.itertuples():
        script = scripts.get(card.recording)
        if script is None or script.labels is None:
            continue
        assert card.repeat_caller == script.labels.repeat_caller, script.name
        assert card.primary_reason in script.labels.contact_reasons, script.name
        checked += 1
    assert checked >= 3


def test_artifact_and_no_personal_data_outside_restricted(sample_night, prefect_server) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    out, _, _, summary = sample_night
    _, database, home = prefect_server
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["nightly-screening-summary"])
            )
        )
    assert artifacts
    text = str(artifacts[-1].data)
    assert f"| scored | {summary.scored} |" in text and "Avoidable contact" in text
    leaks = _leaks([out, database.parent, home], skip=out / "restricted")
    assert leaks == {}
    # ...whereas restricted/ does hold what was said, so the check above can find values.
    assert _leaks([out / "restricted"], skip=None)


def test_rerun_changes_nothing(sample_night, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.nightly import run_nightly

    out, settings, seed, first = sample_night
    before = {t: store.read_table(out, t) for t in ("transcripts", "failures", "samples")}
    cards_before = _cards(out)
    again = run_nightly(
        SAMPLE_CALLS,
        SAMPLE_RECORDINGS,
        out,
        date=DEMO_DATE,
        sample_size=6,
        seed=seed,
        settings=settings,
        show_progress=False,
    )
    assert again.run_id != first.run_id
    pd.testing.assert_frame_equal(_cards(out), cards_before)
    for table, frame in before.items():
        after = store.read_table(out, table)
        assert len(after) == len(frame), table
        if table == "transcripts":
            pd.testing.assert_frame_equal(after, frame)
    assert store.partition_dates(out, "scorecards") == [DEMO_DATE]


def test_killed_run_restarts_without_loss_or_duplicates(sample_night, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL a run after some calls are transcribed; the restart reuses them and completes."""
    from flows.nightly import run_nightly

    out, settings, seed, _ = sample_night
    killed = tmp_path / "out"
    cache = killed / CACHE
    cache.mkdir(parents=True)
    # Most of the night is already transcribed: the killed run must add at least one more.
    done = sorted((out / CACHE).glob("*.json"))
    assert len(done) >= 3
    for entry in done[:-2]:
        shutil.copy2(entry, cache / entry.name)
    seeded = len(list(cache.glob("*.json")))
    script = (
        "from pathlib import Path; from datetime import date;"
        "from flows.nightly import run_nightly; from pipeline.config import Settings;"
        f"run_nightly(Path({str(SAMPLE_CALLS)!r}), Path({str(SAMPLE_RECORDINGS)!r}), "
        f"Path({str(killed)!r}), date=date.fromisoformat({DEMO_DATE.isoformat()!r}), "
        f"sample_size=6, seed={seed}, show_progress=False, "
        f"settings=Settings(**{settings.model_dump(mode='json', exclude={'caller_hash_key'})!r}, "
        f"caller_hash_key={settings.caller_hash_key.get_secret_value()!r}))"
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    deadline = time.monotonic() + 300
    while len(list(cache.glob("*.json"))) <= seeded:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "scorecards").exists()
    finished = {p: p.stat().st_mtime_ns for p in cache.glob("*.json")}

    run_nightly(
        SAMPLE_CALLS,
        SAMPLE_RECORDINGS,
        killed,
        date=DEMO_DATE,
        sample_size=6,
        seed=seed,
        settings=settings,
        show_progress=False,
    )
    # Work finished before the kill was not redone, and nothing was lost or written twice.
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())
    pd.testing.assert_frame_equal(_cards(killed), _cards(out))
    assert len(store.read_table(killed, "transcripts")) == len(store.read_table(out, "transcripts"))
    assert not list(killed.rglob(".*.tmp"))


def test_scrutiny_pack(sample_night, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.scrutiny import run_scrutiny_sample

    out, _, _, summary = sample_night
    pack = tmp_path / "pack"
    index = run_scrutiny_sample(
        out, DEMO_DATE, DEMO_DATE, 3, pack, seed=5, recordings=SAMPLE_RECORDINGS
    )
    assert index == pack / "index.html" and index.exists()
    rows = pd.read_csv(pack / "index.csv", dtype=str)
    assert len(rows) == min(3, summary.scored)
    for cell in rows.to_numpy().ravel():
        assert not str(cell).startswith(("=", "+", "-", "@"))
    assert set(rows["agent"]) <= {f"Agent {i}" for i in range(1, 4)}
    pages = sorted(pack.glob("call-*.html"))
    assert len(pages) == len(rows)
    # Nothing identifies a caller or an agent: no ids, agent ids, numbers or personal data.
    cards = store.read_table(out, store.SCORECARDS)
    secrets = [*cards["call_id"], *cards["agent_id"], *(c for c in cards["recording"])]
    for path in pack.iterdir():
        text = path.read_bytes().decode("utf-8", errors="ignore")
        # pack.parquet maps pages to internal call ids for the review app; nothing else.
        allowed = set(cards["call_id"]) if path.name == store.PACK_FILE else set()
        assert not [s for s in secrets if s in text and s not in allowed], path.name
    manifest = pd.read_parquet(pack / store.PACK_FILE)
    assert list(manifest.columns) == ["call_id", "page", "audio"]
    assert _leaks([pack], skip=None) == {}
    assert list(pack.glob("*.opus")), "silenced audio is part of the pack"
    again = tmp_path / "again"
    run_scrutiny_sample(out, DEMO_DATE, DEMO_DATE, 3, again, seed=5, recordings=SAMPLE_RECORDINGS)
    assert (again / "index.csv").read_text() == (pack / "index.csv").read_text()


def test_monthly_report_intervals_contain_the_sample_data_truth(sample_night) -> None:  # type: ignore[no-untyped-def]
    from flows.monthly import run_monthly_report

    out, _, _, _ = sample_night
    html = run_monthly_report(out, "2025-03")
    assert html.exists() and "<svg" in html.read_text()
    estimates = pd.read_parquet(html.parent / "estimates.parquet").set_index(["metric", "group"])
    # The truth: the labels of every recorded, spoken call of the night (the population drawn from).
    labels = [
        s.labels
        for s in load_scripts(SAMPLE_SCRIPTS)
        if s.labels is not None and s.started_at.date() == DEMO_DATE
    ]
    truth = {
        "avoidable_rate": sum(lab.avoidable for lab in labels) / len(labels),
        "complaint_rate": sum(lab.complaint for lab in labels) / len(labels),
        "qa:anything_else_offered": sum(lab.qa.anything_else_offered for lab in labels)
        / len(labels),
    }
    for metric, rate in truth.items():
        row = estimates.loc[(metric, "all")]
        assert row["ci_low"] <= rate <= row["ci_high"], (metric, rate, row.to_dict())
    repeat = estimates.loc[("repeat_caller_rate", "all")]
    assert repeat["method"].startswith("census") and 0 < repeat["estimate"] < 1
    assert repeat["n_sampled"] > 100  # the whole night's log, not the sample


def test_the_caller_hash_key_given_in_code_reaches_the_night_masked(sample_night) -> None:  # type: ignore[no-untyped-def]
    """`run_nightly`'s settings carry the key into the flow as a SecretStr parameter: the
    callers are hashed with it (no key file is generated) and Prefect stores it masked."""
    from prefect.client.orchestration import get_client

    from pipeline.calls import read_call_log
    from pipeline.config import CALLER_HASH_KEY_FILE

    out, settings, _, summary = sample_night
    assert not (out / CALLER_HASH_KEY_FILE).exists()
    log = read_call_log(SAMPLE_CALLS, caller_hash_key=HASH_KEY).calls
    keyed = dict(zip(log["call_id"], log["caller_hash"], strict=True))
    samples = store.read_table(out, store.SAMPLES).dropna(subset=["caller_hash"])
    assert len(samples) and [keyed[c] for c in samples["call_id"]] == list(samples["caller_hash"])
    with get_client(sync_client=True) as client:
        parameters = client.read_flow_run(summary.run_id).parameters
    assert parameters["caller_hash_key"] == "**********"
    assert settings.caller_hash_key.get_secret_value() not in json.dumps(parameters)


def test_date_defaults_and_bad_runner() -> None:
    from flows.nightly import date_from, make_task_runner
    from pipeline.errors import CallQAError
    from pipeline.periods import last_night

    assert date_from("2025-03-31", "Europe/London") == date(2025, 3, 31)
    assert date_from(None, "Europe/London") == last_night("Europe/London") < date.today()
    with pytest.raises(CallQAError, match="dask-address"):
        make_task_runner("dask", None)


def test_missing_model_stops_the_night_with_a_clear_error(sample_night, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.nightly import run_nightly
    from pipeline.errors import ModelNotFoundError

    _, settings, seed, _ = sample_night
    broken = settings.model_copy(update={"whisper_model": str(tmp_path / "no-such-model")})
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        run_nightly(
            SAMPLE_CALLS,
            SAMPLE_RECORDINGS,
            tmp_path / "out",
            date=DEMO_DATE,
            sample_size=6,
            seed=seed,
            settings=broken,
            show_progress=False,
        )
    assert not (tmp_path / "out" / "scorecards").exists()
