"""The `callqa` command line (typer).

Imports of heavy libraries (faster-whisper, spaCy, Prefect) happen inside the commands that
need them, so `callqa sample` on a large log starts in a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from callqa import people
from callqa.options import (
    CallsOpt,
    DateOpt,
    OutOpt,
    PatternOpt,
    RecordingsOpt,
    SeedOpt,
    SizeOpt,
    console,
    out,
    print_frame,
    settings_from,
)
from pipeline.config import Settings, caller_hash_key
from pipeline.errors import CallQAError
from pipeline.periods import last_night

__all__ = ["app", "main"]

app = typer.Typer(
    name="callqa",
    help="Nightly quality screening of council contact-centre calls.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(people.users_app, name="users")
app.command("subject-access")(people.subject_access)


def main() -> None:
    """Entry point: run the app, turning callqa's own errors into a message and exit code 1."""
    try:
        app()
    except RuntimeError as exc:
        # Prefect's client says this when PREFECT_API_URL names a server that is not there.
        if "Failed to reach API" not in str(exc):
            raise
        console.print(f"[bold red]callqa:[/] {_unreachable_api(exc)}", highlight=False)
        sys.exit(1)
    except CallQAError as exc:
        console.print(f"[bold red]callqa:[/] {exc}", highlight=False)
        sys.exit(1)


def _night(date: str | None, settings: Settings) -> dt.date:
    if date is None:
        return last_night(settings.timezone)
    try:
        return dt.date.fromisoformat(date)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{date!r} is not a date: use YYYY-MM-DD", param_hint="--date"
        ) from exc


def _load_log(calls: Path | None, pattern: str | None, settings: Settings):
    from pipeline.calls import calls_from_filenames, read_call_log

    key, message = caller_hash_key(settings)
    if message:
        console.print(f"[yellow]{message}[/]")
    if calls is not None:
        log = read_call_log(
            calls,
            caller_hash_key=key,
            timezone=settings.timezone,
            default_layout=settings.channel_layout,
        )
    elif pattern is not None:
        log = calls_from_filenames(
            settings.recordings_dir,
            pattern,
            caller_hash_key=key,
            timezone=settings.timezone,
            default_layout=settings.channel_layout,
        )
    else:
        raise typer.BadParameter("give --calls LOG, or --filename-pattern with --recordings DIR")
    for rejected in log.rejected[:20]:
        console.print(f"[yellow]rejected[/] {log.source} {rejected}", highlight=False)
    if len(log.rejected) > 20:
        console.print(f"[yellow]... and {len(log.rejected) - 20} more rejected rows[/]")
    return log


@app.command()
def sample(
    calls: CallsOpt = None,
    out_dir: OutOpt = None,
    date: DateOpt = None,
    sample_size: SizeOpt = None,
    seed: SeedOpt = None,
    filename_pattern: PatternOpt = None,
    recordings: RecordingsOpt = None,
) -> None:
    """Draw the night's sample and mark repeat callers (no audio); write the manifest."""
    import uuid

    from pipeline import store
    from pipeline.sampling import draw_night

    settings = settings_from(
        out_dir=out_dir, sample_size=sample_size, seed=seed, recordings_dir=recordings
    )
    night = _night(date, settings)
    log = _load_log(calls, filename_pattern, settings)
    drawn = draw_night(log.calls, night, settings)
    draw = drawn.draw
    run_id = f"sample-{uuid.uuid4().hex[:12]}"
    path = store.write_partition(
        settings.out_dir, store.SAMPLES, night, draw.manifest.assign(run_id=run_id)
    )
    store.write_partition(settings.out_dir, store.CENSUS, night, drawn.census[store.CENSUS.columns])
    repeats = int(drawn.census["repeat_caller"].sum())
    out.print(
        f"Night {night}: {draw.population} eligible recorded calls of {draw.day_calls}; "
        f"drew {draw.random_size} at random ({draw.method}) and {draw.targeted_size} targeted. "
        f"{repeats} of the night's calls were repeat callers.",
        highlight=False,
    )
    out.print(f"Sample manifest: {path}", highlight=False)


@app.command()
def sample_data(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write it.")] = Path(
        "sample_data"
    ),
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Regenerate the synthetic sample calls (needs the dev extra: piper-tts)."""
    from sample_data.build import render_sample_data

    written = render_sample_data(out_dir, seed=seed)
    out.print(f"Sample data written to {written.out_dir}")


@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="Recordings to transcribe.")],
    layout: Annotated[
        str | None, typer.Option("--layout", help="agent_left, agent_right or mono.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
) -> None:
    """Transcribe recordings into speaker turns."""
    from pipeline.transcribe import format_transcript, transcribe_files

    settings = settings_from(channel_layout=layout)
    transcripts = transcribe_files(
        files,
        layout=settings.channel_layout,
        model=settings.whisper_model,
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        low_confidence=settings.low_confidence,
    )
    for transcript in transcripts:
        if as_json:
            sys.stdout.write(json.dumps(transcript.to_json()) + "\n")
        else:
            out.print(format_transcript(transcript), markup=False, highlight=False)


@app.command()
def tag(
    file: Annotated[Path, typer.Argument(help="A transcript .json or .jsonl file.")],
    models: Annotated[
        Path | None, typer.Option("--models", help="Rule packs and model [default: models/].")
    ] = None,
) -> None:
    """Tag transcripts: reasons, avoidable contact, QA checks, personal data."""
    from pipeline.tagging import load_pipeline, tag_file

    nlp = load_pipeline(models)
    for result in tag_file(file, nlp):
        sys.stdout.write(json.dumps(result) + "\n")


@app.command()
def train(
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="Labelled corpus folder [default: eval/corpus]."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder whose reviews/ to learn from too."),
    ] = None,
    models: Annotated[
        Path | None, typer.Option("--models", help="Rule packs and model [default: models/].")
    ] = None,
) -> None:
    """Retrain the tagger on the corpus and reviews; keep it unless held-out calls show it worse."""
    from pipeline.training import retrain
    from pipeline.vocabulary import DEFAULT_MODELS_DIR

    console.print("Training the tagger (the whole corpus: about 45 minutes on 2 cores) ...")
    result = retrain(corpus or DEFAULT_MODELS_DIR.parent / "eval" / "corpus", out_dir, models)
    out.print(f"Model {result.version}: {result.reason}", highlight=False)
    out.print(f"Model card: {result.card}", highlight=False)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL over scorecards, transcripts, samples, ...")],
    out_dir: OutOpt = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Run DuckDB SQL over the Parquet output."""
    from pipeline.store import query_output

    settings = settings_from(out_dir=out_dir)
    print_frame(query_output(settings.out_dir, query), as_csv=as_csv)


def _unreachable_api(exc: RuntimeError) -> CallQAError:
    url = os.environ.get("PREFECT_API_URL", "the temporary Prefect server")
    return CallQAError(
        f"cannot reach the Prefect API at {url} ({exc}). Start the server (prefect server "
        "start), fix PREFECT_API_URL, or unset it to use a temporary server."
    )


def _prefect_env() -> None:
    # A fresh PREFECT_HOME's first temporary server needs longer than Prefect's 20 s default.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@app.command()
def nightly(
    calls: CallsOpt = None,
    recordings: RecordingsOpt = None,
    out_dir: OutOpt = None,
    date: DateOpt = None,
    sample_size: SizeOpt = None,
    seed: SeedOpt = None,
    task_runner: Annotated[
        str, typer.Option("--task-runner", help="thread (this machine) or dask.")
    ] = "thread",
    dask_address: Annotated[
        str | None, typer.Option("--dask-address", help="Dask scheduler, tcp://host:8786.")
    ] = None,
) -> None:
    """Screen a night: sample, transcribe, tag, redact, score; write Parquet."""
    _prefect_env()
    settings = settings_from(out_dir=out_dir, recordings_dir=recordings)
    if calls is None:
        raise typer.BadParameter("give the call log with --calls LOG", param_hint="--calls")
    night = _night(date, settings)
    _, message = caller_hash_key(settings)
    if message:
        console.print(f"[yellow]{message}[/]", highlight=False)
    from flows.nightly import run_nightly

    summary = run_nightly(
        calls,
        settings.recordings_dir,
        settings.out_dir,
        date=night,
        sample_size=sample_size,
        seed=seed,
        task_runner=task_runner,
        dask_address=dask_address,
        settings=settings,
    )
    out.print(summary.line(), highlight=False)


@app.command("scrutiny-sample")
def scrutiny_sample(
    pack: Annotated[Path, typer.Option("--pack", help="Folder to write the pack to.")],
    start: Annotated[str, typer.Option("--from", help="First night, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last night, YYYY-MM-DD.")],
    size: Annotated[int, typer.Option("--size", min=1, help="Calls in the pack.")],
    out_dir: OutOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random pick.")] = 0,
    recordings: RecordingsOpt = None,
) -> None:
    """Make a scrutiny pack for councillors: random scored calls, personal data removed."""
    _prefect_env()
    settings = settings_from(out_dir=out_dir, recordings_dir=recordings)
    from flows.scrutiny import run_scrutiny_sample

    index = run_scrutiny_sample(
        settings.out_dir,
        _night(start, settings),
        _night(end, settings),
        size,
        pack,
        seed=seed,
        recordings=settings.recordings_dir,
    )
    out.print(f"Scrutiny pack: {index}", highlight=False)


@app.command()
def report(
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM (default: last month).")
    ] = None,
    out_dir: OutOpt = None,
) -> None:
    """Build the monthly reasons-for-contact and avoidable-contact report."""
    _prefect_env()
    settings = settings_from(out_dir=out_dir)
    from flows.monthly import run_monthly_report

    html = run_monthly_report(settings.out_dir, month)
    out.print(f"Monthly report: {html}", highlight=False)


@app.command()
def deploy(
    calls: CallsOpt = None,
    recordings: RecordingsOpt = None,
    out_dir: OutOpt = None,
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="Labelled corpus: also retrain the tagger on the 1st."),
    ] = None,
) -> None:
    """Serve the nightly run (02:00) and the monthly report (1st, 06:00) on their schedules."""
    _prefect_env()
    settings = settings_from(out_dir=out_dir, recordings_dir=recordings)
    if calls is None:
        raise typer.BadParameter("give the call log the nightly run reads with --calls LOG")
    from flows.deploy import deploy as serve_deployments

    training = " and monthly-training (1st, 04:00)" if corpus else ""
    out.print(
        f"Serving nightly-screening (02:00){training} and monthly-report (1st, 06:00); "
        "Ctrl+C stops."
    )
    serve_deployments(
        calls, settings.recordings_dir, settings.out_dir, settings=settings, corpus=corpus
    )


@app.command()
def review(
    out_dir: OutOpt = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: SQLite under --out).")
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    recordings: RecordingsOpt = None,
) -> None:
    """Run the review web app for quality leads and scrutiny members."""
    settings = settings_from(out_dir=out_dir, recordings_dir=recordings)
    from review.app import serve

    try:
        serve(
            settings.out_dir,
            db,
            host=host,
            port=port,
            recordings_dir=settings.recordings_dir,
            state_dir=settings.review_state_dir,
            packs_dir=settings.packs_dir,
            behind_tls=settings.behind_tls,
            trusted_proxies=settings.trusted_proxies,
        )
    except CallQAError as exc:
        # Stop before listening, in one line: a bad key or setting is the operator's to fix.
        console.print(f"[bold red]callqa:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
