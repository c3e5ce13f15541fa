"""Every Parquet table callqa writes: its folder name, Arrow schema, partitioning and cast.

Column lists live here and nowhere else; pipeline/store.py writes and reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from pipeline.errors import StoreError

#: The partition column: a folder name, never a column inside the files.
PARTITION_KEY = "call_date"

#: What a writer accepts: a frame, or one mapping per row.
Rows = pd.DataFrame | Sequence[Mapping[str, Any]]

_STR = pa.string()
_F64 = pa.float64()
_BOOL = pa.bool_()
_I32 = pa.int32()
_I64 = pa.int64()
_DATE = pa.date32()
_TS = pa.timestamp("us", tz="UTC")

#: How the pipeline's frames hold each scalar Arrow type (strings stay in Arrow).
_PANDAS_TYPES: dict[pa.DataType, Any] = {
    _STR: pd.StringDtype("pyarrow"),
    _DATE: pd.ArrowDtype(_DATE),
    _TS: "datetime64[ns, UTC]",
    _F64: "float64",
    _BOOL: "bool",
    _I32: "int32",
    _I64: "int64",
}


@dataclass(frozen=True)
class TableSpec:
    """One output table: its folder name under `--out` and its columns in order.

    `schema` includes `call_date` for partitioned tables (where it is read back from the folder
    name); `file_schema` is what is stored inside each Parquet file.
    """

    name: str
    schema: pa.Schema
    partitioned: bool = True

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    @property
    def file_schema(self) -> pa.Schema:
        if not self.partitioned:
            return self.schema
        return self.schema.remove(self.schema.get_field_index(PARTITION_KEY))

    def cast(self, rows: Rows) -> pa.Table:
        """`rows` as one file of this table stores them: `file_schema`'s columns, order and types.

        A missing or unknown column, or a value that does not fit its type, is a `StoreError`.
        """
        schema = self.file_schema
        if isinstance(rows, pd.DataFrame):
            given = set(rows.columns)
        else:
            given = set().union(*(r.keys() for r in rows)) if rows else set(schema.names)
        missing = [n for n in schema.names if n not in given]
        unknown = sorted(given - set(schema.names))
        if missing or unknown:
            raise StoreError(
                f"rows do not match the schema: missing {missing}, unknown {unknown} "
                "(column lists live in pipeline/tables.py)"
            )
        try:
            if isinstance(rows, pd.DataFrame):
                return pa.Table.from_pandas(rows[schema.names], schema=schema, preserve_index=False)
            return pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise StoreError(f"rows do not fit the schema: {exc}") from exc

    def pandas_types(self, columns: Sequence[str]) -> dict[str, Any]:
        """The pandas dtype the pipeline's frames give each of `columns` (scalar columns only)."""
        return {name: _PANDAS_TYPES[self.schema.field(name).type] for name in columns}


#: The key of every per-call table, and the call's place in the centre.
_CALL_KEY = [("call_id", _STR), ("call_date", _DATE)]
_WHERE = [("agent_id", _STR), ("team", _STR), ("queue", _STR)]
#: The hashed caller and the repeat-caller marks (pipeline/repeats.py).
_CALLER = [("caller_hash", _STR), ("repeat_caller", _BOOL), ("prior_calls_window", _I32)]

#: Why a tag was given (pipeline.tagging.Evidence): the turn index and its words, with personal
#: data already replaced by `[TYPE]`, so the text is as safe to show as `transcripts/`.
_EVIDENCE = pa.struct([("tag", _STR), ("turn", _I32), ("text", _STR)])
#: One caller turn's sentiment (pipeline.sentiment.TurnSentiment): a number, never the words.
_TURN_SENTIMENT = pa.struct([("turn", _I32), ("compound", _F64)])

SCORECARDS = TableSpec(
    "scorecards",
    pa.schema(
        [
            *_CALL_KEY,
            *_WHERE,
            ("duration_s", _F64),
            ("sample_kind", _STR),
            ("stratum", _STR),
            ("inclusion_prob", _F64),
            ("weight", _F64),
            ("transcript_confidence", _F64),
            ("contact_reasons", pa.list_(_STR)),
            ("primary_reason", _STR),
            ("avoidable", _BOOL),
            ("avoidable_category", _STR),
            ("repeat_caller", _BOOL),
            ("prior_calls_window", _I32),
            ("greeting", _BOOL),
            ("agent_named", _BOOL),
            ("id_check", _BOOL),
            ("anything_else_offered", _BOOL),
            ("closing", _BOOL),
            ("complaint", _BOOL),
            ("transferred", _BOOL),
            ("talk_ratio_agent", _F64),
            ("silence_ratio", _F64),
            ("overtalk_s", _F64),
            ("pii_redactions", _I32),
            ("qa_score", _F64),
            ("flags", pa.list_(_STR)),
            ("needs_review", _BOOL),
            ("run_id", _STR),
            ("pipeline_version", _STR),
            # Extras beyond docs/design.md's minimum: the evidence behind each tag and flag, and
            # what a reviewer needs to find and play the call.
            ("evidence", pa.list_(_EVIDENCE)),
            ("started_at", _TS),
            ("direction", _STR),
            ("recording", _STR),
            ("channel_layout", _STR),
            ("longest_silence_s", _F64),
            ("low_confidence", _BOOL),
            ("transcript_status", _STR),
            ("model", _STR),
            # The learned tagger: each tag's calibrated probability, the reviewed tags it was
            # unsure of, and the model's version (models/tagger/model.json).
            ("probabilities", pa.map_(_STR, _F64)),
            ("uncertain", pa.list_(_STR)),
            ("tagger_version", _STR),
            # Why the transcript is not plain "ok": no speech, a recording fault with its
            # figures, or low confidence.
            ("transcript_reason", _STR),
            # Vulnerability ids the tagger found (models/vulnerability.yaml) and whether any is a
            # safeguarding one; the words behind them are `evidence` rows `vulnerability:<id>`.
            ("vulnerability", pa.list_(_STR)),
            ("safeguarding", _BOOL),
            # The caller's VADER sentiment (pipeline/sentiment.py, -1 to +1): per caller turn,
            # and the mean over the call and over its opening and closing thirds.
            ("caller_sentiment_turns", pa.list_(_TURN_SENTIMENT)),
            ("caller_sentiment", _F64),
            ("caller_sentiment_opening", _F64),
            ("caller_sentiment_closing", _F64),
            # Every QA check (docs/design.md's five, which keep their columns above, and a
            # council's own) -> passed, and each flag family of models/flags.yaml -> the tag ids
            # found: maps, so a council's new ids never change the schema (docs/design.md).
            ("qa_checks", pa.map_(_STR, _BOOL)),
            ("tags", pa.map_(_STR, pa.list_(_STR))),
        ]
    ),
)

#: One row per turn; `text` is redacted.
TRANSCRIPTS = TableSpec(
    "transcripts",
    pa.schema(
        [
            *_CALL_KEY,
            ("turn", _I32),
            ("speaker", _STR),
            ("start_s", _F64),
            ("end_s", _F64),
            ("text", _STR),
            ("confidence", _F64),
        ]
    ),
)

_WORD = pa.struct([("start_s", _F64), ("end_s", _F64), ("text", _STR), ("probability", _F64)])
_PII = pa.struct([("type", _STR), ("start", _I32), ("end", _I32)])

#: Unredacted turns for quality leads only, with word timings and the personal-data spans found
#: in each turn, so audio can be silenced later without re-running the models.
RESTRICTED = TableSpec(
    "restricted",
    pa.schema(
        [
            *TRANSCRIPTS.schema,
            ("words", pa.list_(_WORD)),
            ("pii", pa.list_(_PII)),
            # How sure the speaker is (1.0 on a stereo channel; mono: pipeline/diarize.py).
            ("speaker_confidence", _F64),
        ]
    ),
)

#: The night's sample manifest (pipeline/sampling.py, columns in docs/sampling.md): every drawn
#: call, why it was drawn and the design behind it, plus the run that drew it. The columns up
#: to `caller_hash` are copied from the call log.
SAMPLES = TableSpec(
    "samples",
    pa.schema(
        [
            *_CALL_KEY,
            ("started_at", _TS),
            *_WHERE,
            ("duration_s", _F64),
            ("direction", _STR),
            ("recording", _STR),
            ("channel_layout", _STR),
            *_CALLER,
            ("sample_kind", _STR),
            ("stratum", _STR),
            ("stratum_population", _I64),
            ("stratum_sample_size", _I64),
            ("inclusion_prob", _F64),
            ("weight", _F64),
            ("reason_picked", _STR),
            ("seed", _I64),
            ("method", _STR),
            ("population", _I64),
            ("run_id", _STR),
        ]
    ),
)

FAILURES = TableSpec(
    "failures",
    pa.schema(
        [*_CALL_KEY, ("stage", _STR), ("reason", _STR), ("recording", _STR), ("run_id", _STR)]
    ),
)

#: Every eligible call of a night's log (the census behind the repeat-caller rate), not only the
#: sampled ones. `caller_hash` is the keyed hash from pipeline/calls.py, never a number.
CENSUS = TableSpec(
    "census",
    pa.schema(
        [
            *_CALL_KEY,
            ("started_at", _TS),
            *_WHERE,
            ("direction", _STR),
            ("recorded", _BOOL),
            *_CALLER,
        ]
    ),
)

#: `reports/YYYY-MM/frequent_callers.parquet`: callers who rang most in the month, pseudonymised.
FREQUENT_CALLERS = TableSpec(
    "frequent_callers",
    pa.schema(
        [
            ("caller", _STR),
            ("calls", _I64),
            ("queues", pa.list_(_STR)),
            ("first_contact", _TS),
            ("last_contact", _TS),
        ]
    ),
    partitioned=False,
)

#: `reports/YYYY-MM/estimates.parquet`: one row per estimate (not partitioned).
ESTIMATES = TableSpec(
    "estimates",
    pa.schema(
        [
            ("metric", _STR),
            ("group", _STR),
            ("estimate", _F64),
            ("ci_low", _F64),
            ("ci_high", _F64),
            ("n_sampled", _I64),
            ("population", _I64),
            ("method", _STR),
            # Extras: the month and the change from the month before, when there is one.
            ("month", _STR),
            ("previous_estimate", _F64),
            ("change", _F64),
            # Corrected rows (method double_sampling): the reviewed calls behind the correction.
            ("n_reviewed", _I64),
        ]
    ),
    partitioned=False,
)

#: `<pack>/pack.parquet`: which call each page and silenced recording of a scrutiny pack is
#: (file names inside the pack), so the review app can serve a pack by call id. The pack's HTML
#: and CSV, which councillors read, never carry a call id; this file is for the review app.
SCRUTINY_PACK = TableSpec(
    "pack",
    pa.schema([("call_id", _STR), ("page", _STR), ("audio", _STR)]),
    partitioned=False,
)
#: The file name of `SCRUTINY_PACK` inside a pack folder.
PACK_FILE = "pack.parquet"

#: `purges/`: what each purge removed (the nightly retention purge and `callqa subject-access
#: --erase`), one row per place purged. Counts and dates only, never content, numbers or hashes,
#: so the log itself can be kept as long as the council needs to show it enforced its periods.
#: `call_date` is the night (or, for an erasure, the day) of the run that purged; `kind` is
#: `retention` or `erasure`; `cutoff` is the first date kept; `files` and `rows` what went.
PURGES = TableSpec(
    "purges",
    pa.schema(
        [
            ("call_date", _DATE),
            ("purged_at", _TS),
            ("run_id", _STR),
            ("kind", _STR),
            ("what", _STR),
            ("kept_days", _I32),
            ("cutoff", _DATE),
            ("files", _I64),
            ("rows", _I64),
            ("oldest", _DATE),
            ("newest", _DATE),
            ("reference", _STR),
        ]
    ),
)

#: `runs/`: one row per run of the nightly screening (a re-run of a night adds a row), so the
#: review app and IT can see how each night went without Prefect: when it ran, its `state`
#: (`completed` or `failed`), the calls `drawn`, `scored` and `failed`, the per-call
#: `failures` counted by stage, and for a failed night the step it stopped at (`error_stage`)
#: and the error's type (`error`). Counts, names of steps and ids only, never call content.
RUNS = TableSpec(
    "runs",
    pa.schema(
        [
            ("call_date", _DATE),
            ("run_id", _STR),
            ("started_at", _TS),
            ("finished_at", _TS),
            ("state", _STR),
            ("drawn", _I64),
            ("scored", _I64),
            ("failed", _I64),
            ("failures", pa.list_(pa.struct([("stage", _STR), ("calls", _I64)]))),
            ("error_stage", _STR),
            ("error", _STR),
        ]
    ),
)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        SCORECARDS,
        TRANSCRIPTS,
        RESTRICTED,
        SAMPLES,
        FAILURES,
        CENSUS,
        ESTIMATES,
        FREQUENT_CALLERS,
        SCRUTINY_PACK,
        PURGES,
        RUNS,
    )
}


def table_spec(table: TableSpec | str) -> TableSpec:
    """The spec of `table`, given as a spec or by its name."""
    if isinstance(table, TableSpec):
        return table
    try:
        return TABLES[table]
    except KeyError:
        raise StoreError(f"unknown table {table!r}; known: {', '.join(TABLES)}") from None
