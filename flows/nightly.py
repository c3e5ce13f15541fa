"""`nightly_screening`: the night's sample, screened call by call, written as Parquet.

    prepare-night  read + validate the log, mark repeats, draw the sample,
                   write samples/ and census/                                   (one task)
    screen-<id>    check the recording path, transcribe (transcript cache),
                   tag, redact, score: pipeline/screening.py's `screen_call`    (per call)
    write-night    scorecards/, transcripts/ (redacted), restricted/, failures/  (one task)
    purge-expired  delete what is past its keeping period (restricted/, the
                   transcript cache, review notes, audit rows); log it in purges/ (one task)
    notify-safeguarding  email the safeguarding mailbox the count of safeguarding
                   calls and links to them (pipeline/notify.py); a failure is
                   logged, never fails the night                                (one task)
    record-run     add the run's row to runs/ (pipeline/runs.py), also when a step
                   above raised                                                 (one task)
    notify-it      email IT about a failed night, or one with more failed calls
                   than `alert_failed_ratio` (counts and the run id only)       (one task)

A night that stops with an error, or that draws calls and screens none of them, ends the flow
Failed (Prefect: a flow that raises is Failed): its row in runs/ is written and IT emailed
first, then the error is raised again (`NightFailedError` when nothing was screened). A night
with a few failed calls completes; its calls' reasons are in failures/.

Only ids, paths and small dataclasses are task parameters. A call's task returns its scorecard
and turn rows to the flow, so results are never persisted and never cached
(`persist_result=False`, `NO_CACHE`): Prefect's database holds names, states and timings, not
what callers said. One task per call, not one per step: on two cores every task run's API
round trips come out of the same CPU as Whisper. Retries happen only where a retry can help
(reading the log, the recording, the transcript cache: OSError); tagging is deterministic.
Calls start longest first, so no long call is left running alone at the end of the night.

Exactly once: every table is written by replacing its date's partition, and transcripts are
cached under `<out>/restricted/.cache`, so a run killed half-way and started again redoes only
the calls it had not transcribed and writes each call once.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.exceptions import MissingContextError
from prefect.futures import PrefectFuture, as_completed
from prefect.logging import get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flows.tasks import pipeline_task
from pipeline import store
from pipeline.calls import read_call_log
from pipeline.config import Settings, caller_hash_key
from pipeline.errors import CallQAError, NightFailedError, NotifyError, StoreError
from pipeline.notify import (
    SafeguardingMail,
    safeguarding_call_ids,
    send_run_alert,
    send_safeguarding_email,
)
from pipeline.periods import last_night
from pipeline.report import NightSummary
from pipeline.retention import CACHE_DIR, Purged, purge_expired
from pipeline.runs import RunRecord, needs_alert, record_run
from pipeline.sampling import draw_night
from pipeline.scorecard import SampledCall, sampled_calls
from pipeline.screening import (
    FATAL_ERRORS,
    CallOutcome,
    ScreeningModels,
    ScreeningOptions,
    load_screening_models,
    screen_call,
)

__all__ = [
    "CACHE_DIR",
    "NightPlan",
    "date_from",
    "flow_config",
    "make_task_runner",
    "nightly_screening",
    "run_nightly",
]

#: Settings that are never flow parameters as such: Prefect stores parameters, so the secrets
#: travel as SecretStr parameters (stored masked), and the folders are parameters of their own.
_SECRETS = ("caller_hash_key", "smtp_password")
_FOLDERS = ("out_dir", "recordings_dir")


@dataclass(frozen=True)
class NightPlan:
    """The drawn night: the calls to screen and the counts behind them."""

    call_date: date
    calls: list[SampledCall]
    log_rows: int
    rejected_rows: int
    population: int
    targeted: int


def _io_error(task: Any, task_run: Any, state: Any) -> bool:
    return isinstance(state.data, OSError)


_MODELS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _models(whisper_model: str, compute_type: str, cpu_threads: int) -> ScreeningModels:
    """This process's models (a thread pool's, or one Dask worker's), loaded once."""
    return load_screening_models(whisper_model, compute_type=compute_type, cpu_threads=cpu_threads)


def _screen(call: SampledCall, options: ScreeningOptions) -> CallOutcome:
    """A call's task: the models travel by name, and each process loads them once."""
    with _MODELS_LOCK:
        # Shared by the process's threads: load them once, before the threads race.
        models = _models(options.whisper_model, options.compute_type, options.cpu_threads)
    return screen_call(call, options, models)


def _prepare_night(calls: Path, night: date, settings: Settings, run_id: str) -> NightPlan:
    """Read the log, mark repeat callers over all of it, draw the night, write samples/census."""
    log = read_call_log(
        calls,
        caller_hash_key=caller_hash_key(settings)[0],
        timezone=settings.timezone,
        default_layout=settings.channel_layout,
    )
    drawn = draw_night(log.calls, night, settings)
    draw = drawn.draw
    store.write_partition(
        settings.out_dir, store.SAMPLES, night, draw.manifest.assign(run_id=run_id)
    )
    store.write_partition(settings.out_dir, store.CENSUS, night, drawn.census[store.CENSUS.columns])
    return NightPlan(
        call_date=night,
        calls=sampled_calls(draw.manifest),
        log_rows=len(log.calls) + len(log.rejected),
        rejected_rows=len(log.rejected),
        population=draw.population,
        targeted=draw.targeted_size,
    )


def _write_night(plan: NightPlan, outcomes: list[CallOutcome], out: Path) -> None:
    """Replace the night's partitions of every per-call table in one go."""
    cards = [o.scorecard for o in outcomes if o.scorecard is not None]
    store.write_partition(
        out, store.TRANSCRIPTS, plan.call_date, [r for o in outcomes for r in o.transcripts]
    )
    store.write_partition(
        out, store.RESTRICTED, plan.call_date, [r for o in outcomes for r in o.restricted]
    )
    store.write_partition(
        out, store.FAILURES, plan.call_date, [o.failure for o in outcomes if o.failure]
    )
    # Scorecards last: their partition appearing means the night is complete.
    store.write_partition(out, store.SCORECARDS, plan.call_date, cards)


def _purge_expired(settings: Settings, night: date, run_id: str) -> list[Purged]:
    """Storage limitation: purge what is past its keeping period, counted from the morning
    after `night` (so re-running an old night leaves that night's output alone)."""
    # Here, not at the top: `review` loads the web app, which Dask workers never need.
    from review.retention import review_purger

    review = review_purger(
        settings.out_dir,
        settings.review_db_url,
        keep_review_notes_days=settings.keep_review_notes_days,
        keep_audit_days=settings.keep_audit_days,
    )
    return purge_expired(
        settings.out_dir,
        today=night + timedelta(days=1),
        keep_restricted_days=settings.keep_restricted_days,
        keep_transcript_cache_days=settings.keep_transcript_cache_days,
        run_id=run_id,
        review=review,
    )


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """Prefect's run logger inside a run (so the line is in the run's log), else the module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def _safeguarding_mail(settings: Settings) -> SafeguardingMail | None:
    """The email settings, or None when no SMTP relay is configured (email off)."""
    if not settings.smtp_host:
        return None
    password = None if settings.smtp_password is None else settings.smtp_password.get_secret_value()
    return SafeguardingMail(
        host=settings.smtp_host,
        sender=settings.smtp_sender or "",
        recipients=tuple(settings.safeguarding_recipients),
        review_base_url=settings.review_base_url or "",
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=password,
    )


def _notify_safeguarding(settings: Settings, night: date, call_ids: list[str]) -> bool:
    """Email the safeguarding mailbox when the night has safeguarding calls; True if sent.

    Never raises: the night's outputs are written already, and the calls are flagged in the
    review app whatever happens to the email, so a failed send is one loud log line.
    """
    log = _logger()
    mail = _safeguarding_mail(settings)
    if mail is None:
        log.info(
            "Safeguarding email is off (no CALLQA_SMTP_HOST): %d safeguarding call(s) on %s "
            "are flagged in the review app.",
            len(call_ids),
            night,
        )
        return False
    try:
        sent = send_safeguarding_email(mail, night, call_ids)
    except Exception as exc:  # never fail the night over an email
        # A NotifyError says what to fix; anything else by its type only (no message text).
        why = str(exc) if isinstance(exc, NotifyError) else f"{type(exc).__name__}"
        log.error(
            "SAFEGUARDING EMAIL NOT SENT for %s (%d call(s) flagged in the review app): %s",
            night,
            len(call_ids),
            why,
        )
        return False
    if sent is not None:
        log.info(
            "Safeguarding email sent to %d recipient(s): %d call(s) on %s.",
            len(mail.recipients),
            len(call_ids),
            night,
        )
    return sent is not None


def _record_run(out: Path, record: RunRecord) -> bool:
    """Add the run's row to runs/; True if written. A write that fails is logged, not raised:
    on a failed night the error that stopped it is the one to raise."""
    try:
        record_run(out, record)
    except StoreError as exc:
        _logger().error("RUN NOT RECORDED in runs/ for %s: %s", record.call_date, exc)
        return False
    return True


def _notify_it(settings: Settings, record: RunRecord) -> bool:
    """Email IT when the night failed or too many of its calls did; True if sent. Never raises
    (the night is over either way; a failed night's error is raised by the flow)."""
    if not needs_alert(record, settings.alert_failed_ratio):
        return False
    log = _logger()
    mail = _safeguarding_mail(settings)
    if mail is None or not settings.it_recipients:
        log.warning(
            "Night %s: %s, %d of %d call(s) failed (run %s). The IT email is off "
            "(set CALLQA_SMTP_HOST and CALLQA_IT_RECIPIENTS).",
            record.call_date,
            record.state,
            record.failed,
            record.drawn,
            record.run_id,
        )
        return False
    try:
        send_run_alert(
            replace(mail, recipients=tuple(settings.it_recipients)),
            record,
            alert_failed_ratio=settings.alert_failed_ratio,
        )
    except Exception as exc:  # never let the email hide how the night went
        why = str(exc) if isinstance(exc, NotifyError) else f"{type(exc).__name__}"
        log.error(
            "RUN-HEALTH EMAIL NOT SENT for %s (run %s): %s", record.call_date, record.run_id, why
        )
        return False
    log.info(
        "Run-health email sent to %d recipient(s) for %s.",
        len(settings.it_recipients),
        record.call_date,
    )
    return True


#: Retry only what a second try can fix: the file system, not our code or our data.
_IO_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": 2,
    "retry_condition_fn": _io_error,
}
prepare_night = pipeline_task(_prepare_night, "prepare-night", **_IO_RETRIES)
screen = pipeline_task(_screen, "screen", task_run_name="screen-{call.call_id}", **_IO_RETRIES)
write_night = pipeline_task(_write_night, "write-night")
purge_expired_task = pipeline_task(_purge_expired, "purge-expired")
notify_safeguarding = pipeline_task(_notify_safeguarding, "notify-safeguarding")
record_run_task = pipeline_task(_record_run, "record-run")
notify_it = pipeline_task(_notify_it, "notify-it")


def _collect(
    calls: list[SampledCall], futures: list[PrefectFuture[CallOutcome]], run_id: str, show: bool
) -> dict[str, CallOutcome]:
    """Wait for every call's task, with a live count on the terminal.

    A missing model or broken rule pack stops the night (no call could succeed); any other
    crash of a call's task becomes that call's failure row.
    """
    by_future = {id(f): call for f, call in zip(futures, calls, strict=True)}
    done: dict[str, CallOutcome] = {}
    progress = Progress(
        TextColumn("screening calls"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show,
    )
    with progress:
        bar = progress.add_task("calls", total=len(futures))
        for future in as_completed(futures):
            call = by_future[id(future)]
            result = future.result(raise_on_failure=False)
            if isinstance(result, FATAL_ERRORS):
                raise result
            if isinstance(result, CallOutcome):
                done[call.call_id] = result
            else:
                # The task itself crashed (e.g. an OS error after its retries).
                name = type(result).__name__ if isinstance(result, BaseException) else "crash"
                done[call.call_id] = CallOutcome.failed(
                    call, "task", f"task failed ({name})", run_id
                )
            progress.advance(bar)
    return done


def _screen_night(
    calls: list[SampledCall], options: ScreeningOptions, show: bool
) -> list[CallOutcome]:
    """Every call's task, started longest first (LPT, unknown lengths last); the outcomes in
    `calls` order."""
    order = sorted(calls, key=lambda c: -(c.duration_s or 0.0))
    futures = [screen.submit(c, options) for c in order]
    done = _collect(order, futures, options.run_id, show)
    return [done[c.call_id] for c in calls]


def _night_settings(
    out: str, recordings: str, config: dict[str, Any] | None, **given: Any
) -> Settings:
    """The flow's Settings: `config` (secrets there are ignored), the folders, and the other
    parameters that were given."""
    overrides = {k: v for k, v in (config or {}).items() if k not in _SECRETS}
    overrides |= {"out_dir": out, "recordings_dir": recordings}
    overrides |= {k: v for k, v in given.items() if v is not None}
    return Settings(**overrides)


def _screening_options(settings: Settings, run_id: str) -> ScreeningOptions:
    return ScreeningOptions(
        recordings=settings.recordings_dir,
        run_id=run_id,
        whisper_model=settings.whisper_model,
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        low_confidence=settings.low_confidence,
        cache_dir=settings.out_dir / CACHE_DIR,
    )


def _summary(
    plan: NightPlan, run_id: str, outcomes: list[CallOutcome], elapsed_s: float, out: Path
) -> NightSummary:
    return NightSummary.from_rows(
        call_date=plan.call_date,
        run_id=run_id,
        log_rows=plan.log_rows,
        rejected_rows=plan.rejected_rows,
        population=plan.population,
        scorecards=[o.scorecard for o in outcomes if o.scorecard is not None],
        failures=[o.failure for o in outcomes if o.failure is not None],
        sampled=len(plan.calls),
        targeted=plan.targeted,
        elapsed_s=elapsed_s,
        out=out,
    )


def _close_run(settings: Settings, record: RunRecord) -> None:
    """The run's row in runs/, and IT emailed when the night needs it."""
    record_run_task(settings.out_dir, record)
    notify_it(settings, record)


# Over 80 lines only for its signature and documented parameters: the tasks do the work.
@flow(
    name="nightly-screening",
    task_runner=ThreadPoolTaskRunner(max_workers=2),
    persist_result=False,
    log_prints=False,
)
def nightly_screening(
    calls: str,
    recordings: str,
    out: str,
    date: str | None = None,
    sample_size: int | None = None,
    seed: int | None = None,
    config: dict[str, Any] | None = None,
    show_progress: bool = True,
    caller_hash_key: SecretStr | None = None,
    smtp_password: SecretStr | None = None,
) -> NightSummary:
    """Screen one night's sample of recorded calls and write the Parquet outputs.

    `date` is YYYY-MM-DD (default: yesterday in the configured time zone). `config` holds any
    other Settings field (JSON values) but the secrets: those are the SecretStr parameters
    (Prefect stores them masked), else CALLQA_CALLER_HASH_KEY or `<out>/.callqa/caller_hash.key`
    and CALLQA_SMTP_PASSWORD, read by the process that runs the flow.
    """
    from prefect.runtime import flow_run

    started = time.monotonic()
    settings = _night_settings(
        out,
        recordings,
        config,
        sample_size=sample_size,
        seed=seed,
        caller_hash_key=caller_hash_key,
        smtp_password=smtp_password,
    )
    night = date_from(date, settings.timezone)
    run_id = str(flow_run.id or uuid.uuid4())
    started_at = datetime.now(UTC)
    step, drawn = "prepare-night", 0
    try:
        plan = prepare_night(Path(calls), night, settings, run_id)
        step, drawn = "screen", len(plan.calls)
        outcomes = _screen_night(plan.calls, _screening_options(settings, run_id), show_progress)
        step = "write-night"
        write_night(plan, outcomes, settings.out_dir)
        step = "purge-expired"
        purge_expired_task(settings, night, run_id)
    except Exception as exc:
        # Only the error's type: a message could quote the call log or a path.
        stopped = RunRecord.from_night(
            call_date=night,
            run_id=run_id,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            drawn=drawn,
            scored=0,
            failures=[],
            error_stage=step,
            error=type(exc).__name__,
        )
        _close_run(settings, stopped)
        raise
    summary = _summary(plan, run_id, outcomes, time.monotonic() - started, settings.out_dir)
    create_markdown_artifact(
        key="nightly-screening-summary",
        markdown=summary.markdown(),
        description=f"Nightly screening of {night}",
    )
    cards = [o.scorecard for o in outcomes if o.scorecard is not None]
    notify_safeguarding(settings, night, safeguarding_call_ids(cards))
    record = RunRecord.from_night(
        call_date=night,
        run_id=run_id,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        drawn=len(plan.calls),
        scored=len(cards),
        failures=[o.failure for o in outcomes if o.failure is not None],
    )
    _close_run(settings, record)
    if record.state == "failed":
        raise NightFailedError(
            f"the night of {night} drew {record.drawn} calls and could screen none of them "
            f"({', '.join(f'{s}: {n}' for s, n in record.failures)}); see failures/ and runs/"
        )
    return summary


def date_from(text: str | None, timezone: str) -> date:
    """`--date` as a date; yesterday in `timezone` when not given."""
    if text is None:
        return last_night(timezone)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CallQAError(f"--date {text!r} is not a date: use YYYY-MM-DD") from None


def flow_config(settings: Settings) -> dict[str, Any]:
    """`settings` as the flow's `config` parameter: JSON values, without the secrets or the
    folders."""
    return settings.model_dump(mode="json", exclude={*_SECRETS, *_FOLDERS})


def make_task_runner(
    task_runner: str = "thread", dask_address: str | None = None, *, max_workers: int = 2
) -> Any:
    """The per-call task runner: threads in this process, or a Dask cluster's workers.

    With Dask every worker process loads the Whisper model and spaCy once (per-process caches)
    and runs calls one per worker thread; start workers with `--nthreads 1` and set
    CALLQA_CPU_THREADS to the cores each may use.
    """
    if task_runner == "thread":
        return ThreadPoolTaskRunner(max_workers=max_workers)
    if task_runner == "dask":
        if not dask_address:
            raise CallQAError("--task-runner dask needs --dask-address tcp://HOST:8786")
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    raise CallQAError(f"--task-runner must be thread or dask, not {task_runner!r}")


def run_nightly(
    calls: Path,
    recordings: Path,
    out: Path,
    *,
    date: date | None = None,
    sample_size: int | None = None,
    seed: int | None = None,
    task_runner: str = "thread",
    dask_address: str | None = None,
    settings: Settings | None = None,
    show_progress: bool = True,
) -> NightSummary:
    """Run `nightly_screening` once, now (what `callqa nightly` calls)."""
    settings = settings or Settings()
    runner = make_task_runner(task_runner, dask_address)
    screening = nightly_screening.with_options(task_runner=runner)
    return screening(
        calls=str(calls),
        recordings=str(recordings),
        out=str(out),
        date=None if date is None else date.isoformat(),
        sample_size=sample_size,
        seed=seed,
        config=flow_config(settings),
        show_progress=show_progress,
        caller_hash_key=settings.caller_hash_key,
        smtp_password=settings.smtp_password,
    )
