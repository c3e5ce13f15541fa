"""`callqa deploy`: the nightly flow at 02:00, and on the 1st the tagger's retraining at 04:00
and the monthly report at 06:00.

Both schedules are in Europe/London time (so they follow the clock changes). `deploy` registers
the deployments with the Prefect server in PREFECT_API_URL and then serves them from this
process, which runs each scheduled flow run as it falls due; README.md shows how to run the
server and this process as services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import serve
from prefect.schedules import Cron

from flows.monthly import monthly_report, monthly_training
from flows.nightly import flow_config, nightly_screening
from pipeline.config import Settings

__all__ = [
    "MONTHLY_CRON",
    "NIGHTLY_CRON",
    "TRAINING_CRON",
    "apply_deployments",
    "deploy",
    "deployments",
]

NIGHTLY_CRON = "0 2 * * *"
TRAINING_CRON = "0 4 1 * *"
MONTHLY_CRON = "0 6 1 * *"


def deployments(
    calls: Path,
    recordings: Path,
    out: Path,
    *,
    settings: Settings | None = None,
    corpus: Path | None = None,
) -> list[Any]:
    """The deployments (RunnerDeployment), with their schedules and fixed parameters.

    The tagger's retraining is deployed only with a labelled `corpus` to train on.

    The nightly run's `date` is left out so each run screens the night before it. Settings go
    in as parameters except the caller-hash key and the SMTP password, which the served process
    reads itself (a deployment's parameters are stored by Prefect).
    """
    settings = settings or Settings()
    timezone = settings.timezone
    nightly = nightly_screening.to_deployment(
        name="nightly",
        schedules=[Cron(NIGHTLY_CRON, timezone=timezone)],
        parameters={
            "calls": str(Path(calls).resolve()),
            "recordings": str(Path(recordings).resolve()),
            "out": str(Path(out).resolve()),
            "config": flow_config(settings),
            "show_progress": False,
        },
        description="Screen last night's random sample of recorded calls.",
    )
    monthly = monthly_report.to_deployment(
        name="monthly",
        schedules=[Cron(MONTHLY_CRON, timezone=timezone)],
        parameters={"out": str(Path(out).resolve())},
        description="Reasons-for-contact and avoidable-contact report for last month.",
    )
    if corpus is None:
        return [nightly, monthly]
    training = monthly_training.to_deployment(
        name="training",
        schedules=[Cron(TRAINING_CRON, timezone=timezone)],
        parameters={"out": str(Path(out).resolve()), "corpus": str(Path(corpus).resolve())},
        description="Retrain the tagger from the corpus and last month's reviews.",
    )
    return [nightly, training, monthly]


def apply_deployments(
    calls: Path,
    recordings: Path,
    out: Path,
    *,
    settings: Settings | None = None,
    corpus: Path | None = None,
) -> list[UUID]:
    """Register (or update) the deployments with the server; does not run anything."""
    found = deployments(calls, recordings, out, settings=settings, corpus=corpus)
    return [d.apply() for d in found]


def deploy(
    calls: Path,
    recordings: Path,
    out: Path,
    *,
    settings: Settings | None = None,
    corpus: Path | None = None,
) -> None:
    """Register the deployments and serve them until stopped (what `callqa deploy` calls)."""
    serve(*deployments(calls, recordings, out, settings=settings, corpus=corpus))
