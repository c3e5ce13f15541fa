"""A page's tables as a download: CSV (UTF-8, a header row) or an Excel workbook (openpyxl).

Every table page answers `?format=csv` and `?format=xlsx` through `table_response`: the route
builds its DataFrame(s) and this module writes them. Several tables (the dashboard's) are one
sheet each in Excel, and one CSV with a `table` column saying which table each row is from.

Cells are written for a person opening the file in a spreadsheet: lists as "a; b", dates and
times as ISO text, missing values empty, and any text a spreadsheet would run as a formula
(starting =, +, -, @, tab or CR) with a leading `'` (`pipeline.store.safe_csv_cell`, the one
guard callqa's CSVs share). Call ids and agent ids can come from the phone system as anything.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import Query
from fastapi.responses import Response
from openpyxl import Workbook

from pipeline.store import safe_csv_cell

__all__ = ["FORMATS", "Format", "FormatQuery", "page_action", "table_response"]

#: A page's download formats; "" is the HTML page itself.
Format = Literal["", "csv", "xlsx"]
#: A table page's `?format=` parameter.
FormatQuery = Annotated[Format, Query(alias="format")]
FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
#: Characters Excel refuses in a sheet name, and its length limit.
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_SHEET_MAX = 31


def page_action(page: str, fmt: str) -> str:
    """The audit action of a table page: `view_<page>`, or `export_<page>` for a download."""
    return f"export_{page}" if fmt else f"view_{page}"


def _cell(value: Any) -> Any:
    """One value as a spreadsheet cell: plain text, number, bool or None, formula-guarded."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, list | tuple | np.ndarray):
        return safe_csv_cell("; ".join(str(v) for v in value))
    if isinstance(value, datetime | pd.Timestamp | date):
        return value.isoformat()
    return safe_csv_cell(str(value))


def _rows(frame: pd.DataFrame) -> list[list[Any]]:
    return [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]


def _csv(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    if len(sheets) == 1:
        frame = next(iter(sheets.values()))
    else:
        frame = pd.concat(
            [f.assign(table=name)[["table", *f.columns]] for name, f in sheets.items()],
            ignore_index=True,
        )
    header = [_cell(str(c)) for c in frame.columns]
    body = pd.DataFrame(_rows(frame), columns=header, dtype=object)
    text = io.StringIO()
    body.to_csv(text, index=False, lineterminator="\r\n")
    return text.getvalue().encode("utf-8")


def _sheet_name(name: str, taken: set[str]) -> str:
    base = _SHEET_BAD.sub(" ", name).strip()[:_SHEET_MAX] or "Sheet"
    title, n = base, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: _SHEET_MAX - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def _xlsx(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    # Write-only: rows stream to the file, so a year of calls costs no more memory than a page.
    book = Workbook(write_only=True)
    taken: set[str] = set()
    for name, frame in sheets.items():
        sheet = book.create_sheet(_sheet_name(name, taken))
        sheet.append([_cell(str(c)) for c in frame.columns])
        for row in _rows(frame):
            sheet.append(row)
    if not sheets:
        book.create_sheet("Sheet")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _file_name(name: str, extension: str) -> str:
    """`callqa-<name>.<ext>` with only safe characters (agent ids may hold anything)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "table"
    return f"callqa-{stem}.{extension}"


def table_response(
    tables: pd.DataFrame | Mapping[str, pd.DataFrame], name: str, fmt: str
) -> Response:
    """A download of `tables` (one frame, or sheet name -> frame) as `fmt` ("csv" or "xlsx"),
    named `callqa-<name>.<ext>`."""
    sheets = {name: tables} if isinstance(tables, pd.DataFrame) else dict(tables)
    media_type, extension = FORMATS[fmt]
    content = _csv(sheets) if fmt == "csv" else _xlsx(sheets)
    return Response(
        content,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="{_file_name(name, extension)}"',
        },
    )
