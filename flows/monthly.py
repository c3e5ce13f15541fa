"""`monthly_report`: recommendation 28's monthly reasons-for-contact and avoidable-contact report.

`monthly_training`: retrain the tagger from the labelled corpus plus the quality leads'
reviews, promoting the new model unless the held-out dev split shows it worse.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from flows.tasks import pipeline_task
from pipeline.periods import last_month
from pipeline.report import MonthlyReport, build_monthly_report
from pipeline.training import TrainingResult, retrain

__all__ = ["monthly_report", "monthly_training", "run_monthly_report"]

_build = pipeline_task(build_monthly_report, "build-report")
_retrain = pipeline_task(retrain, "retrain-tagger")


@flow(name="monthly-report", persist_result=False)
def monthly_report(out: str, month: str | None = None) -> str:
    """Build `<out>/reports/<month>/` (default: last month); returns the report page's path."""
    built: MonthlyReport = _build(Path(out), month or last_month())
    create_link_artifact(
        key="monthly-report",
        link=built.html_path.resolve().as_uri(),
        description=f"Monthly report {built.month}: {built.n_sampled} random calls, "
        f"{built.nights} nights",
    )
    return str(built.html_path)


def run_monthly_report(out: Path, month: str | None = None) -> Path:
    """Run `monthly_report` now (what `callqa report` calls); returns report.html."""
    return Path(monthly_report(out=str(out), month=month))


@flow(name="monthly-training", persist_result=False)
def monthly_training(out: str, corpus: str, models: str | None = None) -> str:
    """Retrain the tagger; the model card becomes an artifact. Returns the decision."""
    result: TrainingResult = _retrain(Path(corpus), Path(out), Path(models) if models else None)
    create_markdown_artifact(
        key="tagger-model-card",
        markdown=result.card.read_text(encoding="utf-8"),
        description=f"Tagger {result.version}: {result.reason}",
    )
    return result.reason
