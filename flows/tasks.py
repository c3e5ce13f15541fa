"""`pipeline_task`: a pipeline function as a Prefect task, with the flows' one result policy.

Results are never persisted and never cached: they hold what callers said, and Prefect's
database is to keep names, states and timings only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

__all__ = ["pipeline_task"]

P = ParamSpec("P")
R = TypeVar("R")


def pipeline_task(fn: Callable[P, R], name: str, **options: Any) -> Task[P, R]:
    """`fn` as a task called `name`; `options` are other `prefect.task` options (retries)."""
    # `fn` must be a module-level function, so that Dask pickles the task by reference.
    made: Task[P, R] = task(fn, name=name, cache_policy=NO_CACHE, persist_result=False, **options)
    return made
