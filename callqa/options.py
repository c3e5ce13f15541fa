"""What the `callqa` commands share: the two consoles, the common options and the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
