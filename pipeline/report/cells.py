"""Scorecard cells of Parquet map and list columns as plain dicts and lists."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["list_cell", "map_cell", "map_column"]


def map_cell(value: Any) -> dict[str, Any]:
    """One cell of a Parquet map column as a dict: pyarrow gives (key, value) pairs, and rows
    written before the column existed give None."""
    return dict(value) if isinstance(value, list | tuple | dict) else {}


def list_cell(value: Any) -> list[str]:
    """A list cell (None, a list or pyarrow's numpy array) as a list."""
    return [] if value is None else [str(v) for v in value]


def map_column(frame: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    """A map column's cells as dicts; a frame without the column (older callers) gives {}."""
    if column not in frame.columns:
        return [{} for _ in range(len(frame))]
    return [map_cell(m) for m in frame[column]]
