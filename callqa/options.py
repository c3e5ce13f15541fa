"""What the `callqa` commands share: the two consoles, the common options and the settings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console

from pipeline.config import Settings

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

CallsOpt = Annotated[
    Path | None, typer.Option("--calls", help="Call log (CSV or Parquet).", show_default=False)
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Output folder [CALLQA_OUT_DIR].")]
DateOpt = Annotated[
    str | None, typer.Option("--date", help="Night to process, YYYY-MM-DD (default: yesterday).")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed [CALLQA_SEED].")]
SizeOpt = Annotated[
    int | None, typer.Option("--sample-size", help="Calls to draw [CALLQA_SAMPLE_SIZE].")
]
RecordingsOpt = Annotated[
    Path | None,
    typer.Option("--recordings", help="Folder of recordings [CALLQA_RECORDINGS_DIR]."),
]
PatternOpt = Annotated[
    str | None,
    typer.Option(
        "--filename-pattern",
        help="Build the call log from recording names with this regex (named groups).",
    ),
]


def settings_from(**overrides: object) -> Settings:
    """The settings: environment and callqa.toml, under the options given on the command line."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)


def print_frame(frame: pd.DataFrame, *, as_csv: bool = False, title: str | None = None) -> None:
    """`frame` on standard output: a table, or CSV with formula-looking cells made safe."""
    if as_csv:
        from pipeline.store import safe_csv_cell

        frame.map(safe_csv_cell).to_csv(sys.stdout, index=False)
        return
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
