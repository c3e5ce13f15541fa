"""Read-only access to the nightly output: scorecards, transcripts, reports, scrutiny packs.

Everything here reads the Parquet that `callqa nightly`, `scrutiny-sample` and `report` write
(docs/design.md, "Outputs"), through `pipeline.store`'s readers and schemas; nothing writes.
Folder contents are cached and re-read when a file under them changes (checked at most every
`refresh_s`), so a nightly run shows up without restarting the app while page views stay cheap.

Files are only ever found by call id: `safe_file()` refuses any path that resolves (after
symlinks) outside the folder it must be in.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline import store
from pipeline.recordings import resolve_recording

__all__ = [
    "AUDIO_TYPES",
    "OutputStore",
    "PackData",
    "QueueView",
    "TurnRow",
    "safe_file",
]

#: Audio a browser can play, by suffix; anything else is never served.
AUDIO_TYPES: dict[str, str] = {
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
}

#: List columns the pages use as Python lists (pyarrow gives arrays).
_LIST_COLUMNS = ("contact_reasons", "flags", "vulnerability")
_QUEUE_COLUMNS = [
    "call_id",
    "call_date",
    "queue",
    "team",
    "agent_id",
    "primary_reason",
    "contact_reasons",
    "flags",
    "complaint",
    "qa_score",
    "sample_kind",
    "safeguarding",
    "vulnerability",
    "tags",
]


@dataclass(frozen=True)
class TurnRow:
    """One transcript turn as the pages show it."""

    turn: int
    speaker: str
    start_s: float
    end_s: float
    text: str
    confidence: float | None


@dataclass(frozen=True)
class QueueView:
    """The flagged calls in review order, with what the queue's filters can choose from."""

    calls: pd.DataFrame
    teams: list[str]
    agents: list[str]
    queues: list[str]
    flags: list[str]
    reasons: list[str]
    tags: list[str]  # a council's own flags found, as `<family>:<tag>`


@dataclass
class PackData:
    """What a scrutiny pack folder holds: its manifest's rows and silenced audio by call id."""

    folder: Path
    calls: pd.DataFrame
    audio: dict[str, Path] = field(default_factory=dict)

    def audio_file(self, call_id: str) -> Path | None:
        """The call's silenced audio, checked again now: a file swapped for a symlink out of
        the pack since the manifest was read is refused."""
        path = self.audio.get(call_id)
        if path is None:
            return None
        return safe_file(self.folder, os.path.relpath(path, self.folder))


def safe_file(root: Path | None, relative: object) -> Path | None:
    """`root / relative` when that is an existing file inside `root`, else None.

    Refuses absolute paths, NUL bytes, `..` escapes and symlinks that lead outside
    (`pipeline.recordings.resolve_recording`, the pipeline's own check).
    """
    if root is None or not isinstance(relative, str):
        return None
    return resolve_recording(root, relative).path


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of the Parquet files under `folder` (empty when absent)."""
    found: list[tuple[str, int, int]] = []
    if not folder.is_dir():
        return ()
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith(".parquet"):
                st = os.stat(os.path.join(dirpath, name))
                found.append((os.path.join(dirpath, name), st.st_mtime_ns, st.st_size))
    return tuple(sorted(found))


def _read_output(out_dir: Path, table: store.TableSpec) -> pd.DataFrame:
    """A whole partitioned table; the `call_date` key comes back as an ISO string."""
    df = store.read_table(out_dir, table)
    df["call_date"] = df["call_date"].astype(str)
    return df


#: Scorecard columns that are yes/no: null only in nights written before the column existed.
_BOOL_COLUMNS = [f.name for f in store.SCORECARDS.schema if pa.types.is_boolean(f.type)]


def _as_list(values: Iterable[object] | None) -> list[str]:
    return [] if values is None else [str(v) for v in values]


def _normalise_calls(df: pd.DataFrame) -> pd.DataFrame:
    """Scorecard rows with plain Python lists and dicts where pyarrow gives arrays and
    (key, value) pairs: every QA check -> passed, and each flag family -> its tag ids.

    A night written by an older callqa reads with nulls in the columns added since (e.g.
    `safeguarding`, `vulnerability`, `tags`): they read as no, none and empty.
    """
    for col in _LIST_COLUMNS:
        df[col] = df[col].map(_as_list)
    df["qa_checks"] = df["qa_checks"].map(lambda pairs: {} if pairs is None else dict(pairs))
    df["tags"] = df["tags"].map(
        lambda pairs: {} if pairs is None else {family: _as_list(ids) for family, ids in pairs}
    )
    for col in _BOOL_COLUMNS:
        df[col] = df[col].astype("boolean").fillna(False).astype(bool)
    return df


def _turns(table: pd.DataFrame) -> list[TurnRow]:
    return [
        TurnRow(
            turn=int(r.turn),
            speaker=str(r.speaker),
            start_s=float(r.start_s),
            end_s=float(r.end_s),
            text=str(r.text),
            confidence=None if pd.isna(r.confidence) else float(r.confidence),
        )
        for r in table.sort_values("turn").itertuples(index=False)
    ]


@lru_cache(maxsize=32)
def _partition_turns(
    out_dir: Path, table: str, day: date, _stamp: int
) -> dict[str, tuple[TurnRow, ...]]:
    """Every call's turns of one night's partition, by call id; `_stamp` (the partition's
    newest mtime) keys the cache, so a re-run night is read again."""
    frame = store.read_table(out_dir, table, start=day, end=day)
    return {
        str(call_id): tuple(_turns(rows)) for call_id, rows in frame.groupby("call_id", sort=False)
    }


class OutputStore:
    """The nightly output folder, read through small caches."""

    def __init__(
        self, out_dir: Path, recordings_dir: Path | None, *, refresh_s: float = 5.0
    ) -> None:
        self.out_dir = out_dir
        self.recordings_dir = recordings_dir
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._checked = 0.0
        self._sig: tuple[tuple[str, int, int], ...] | None = None
        self._calls = pd.DataFrame()
        self._by_id: dict[str, int] = {}
        self._packs: dict[str, tuple[object, PackData]] = {}
        self._queue: tuple[int, QueueView] | None = None
        self.version = 0

    # -- scorecards -------------------------------------------------------------------------
    def calls(self) -> pd.DataFrame:
        """Every scorecard row (one per sampled call), in `store.SCORECARDS`' columns."""
        now = time.monotonic()
        if now - self._checked < self.refresh_s and self._sig is not None:
            return self._calls
        with self._lock:
            if now - self._checked < self.refresh_s and self._sig is not None:
                return self._calls
            sig = _signature(self.out_dir / store.SCORECARDS.name)
            if sig != self._sig:
                calls = _normalise_calls(_read_output(self.out_dir, store.SCORECARDS))
                calls = calls.drop_duplicates("call_id", keep="last").reset_index(drop=True)
                self._calls = calls
                self.version += 1
                self._by_id = {cid: i for i, cid in enumerate(calls["call_id"])}
                self._sig = sig
            self._checked = now
            return self._calls

    def queue_view(self) -> QueueView:
        """Flagged calls, most urgent first, and the filter choices; rebuilt only when the
        scorecards change, so a queue page costs a filter and a slice, not a sort."""
        calls = self.calls()
        cached = self._queue
        if cached is not None and cached[0] == self.version:
            return cached[1]
        flagged = calls[calls["needs_review"] | calls["safeguarding"]][_QUEUE_COLUMNS]
        # Most urgent first: safeguarding (a council must act on it), complaints, then the most
        # flags, then the lowest QA score.
        order = flagged.assign(n_flags=flagged["flags"].map(len)).sort_values(
            ["safeguarding", "complaint", "n_flags", "qa_score", "call_date"],
            ascending=[False, False, False, True, False],
        )
        flagged = flagged.loc[order.index].reset_index(drop=True)

        def options(column: str) -> list[str]:
            return sorted({str(v) for v in calls[column].dropna()})

        view = QueueView(
            calls=flagged,
            teams=options("team"),
            agents=options("agent_id"),
            queues=options("queue"),
            flags=sorted({f for fs in calls["flags"] for f in fs}),
            reasons=sorted({r for rs in calls["contact_reasons"] for r in rs}),
            tags=sorted({f"{f}:{t}" for m in calls["tags"] for f, ts in m.items() for t in ts}),
        )
        self._queue = (self.version, view)
        return view

    def call(self, call_id: str) -> dict[str, object] | None:
        """One call's scorecard row as a dict, or None for an unknown id."""
        calls = self.calls()
        i = self._by_id.get(call_id)
        return None if i is None else calls.iloc[i].to_dict()

    def transcript(self, call_id: str, call_date: str, *, restricted: bool) -> list[TurnRow]:
        """Redacted turns, or the unredacted ones from `restricted/` (quality leads only)."""
        table = store.RESTRICTED if restricted else store.TRANSCRIPTS
        try:
            day = date.fromisoformat(call_date)
        except ValueError:
            return []
        folder = self.out_dir / table.name / f"{store.PARTITION_KEY}={day.isoformat()}"
        if not folder.is_dir():
            return []
        stamp = max((p.stat().st_mtime_ns for p in folder.glob("*.parquet")), default=0)
        by_call = _partition_turns(self.out_dir, table.name, day, stamp)
        return list(by_call.get(call_id, ()))

    def recording(self, call_id: str) -> Path | None:
        """The call's original recording, only if it lies inside the recordings folder."""
        row = self.call(call_id)
        if row is None:
            return None
        path = safe_file(self.recordings_dir, row.get("recording"))
        return path if path is not None and path.suffix.lower() in AUDIO_TYPES else None

    # -- monthly reports --------------------------------------------------------------------
    def months(self) -> list[str]:
        """Months with an estimates table, newest first."""
        reports = self.out_dir / "reports"
        if not reports.is_dir():
            return []
        found = [p.parent.name for p in reports.glob("*/estimates.parquet")]
        return sorted((m for m in found if len(m) == 7 and m[4] == "-"), reverse=True)

    def estimates(self, month: str) -> pd.DataFrame:
        if month not in self.months():
            return pd.DataFrame()
        return store.read_file(
            self.out_dir / "reports" / month / "estimates.parquet", store.ESTIMATES
        )

    def report_html(self, month: str) -> Path | None:
        if month not in self.months():
            return None
        path = self.out_dir / "reports" / month / "report.html"
        return path if path.is_file() else None

    # -- scrutiny packs ---------------------------------------------------------------------
    def pack(self, folder: Path) -> PackData:
        """A `scrutiny_sample` pack: its manifest's calls (in page order) and the silenced
        audio the manifest names, only files inside the folder. Nothing else in the folder is
        read: a Parquet file dropped beside the manifest is never shown to a councillor; the
        redacted turns come from the nightly output (`transcript`)."""
        manifest = folder / store.PACK_FILE
        try:
            st = manifest.stat()
            sig: object = (st.st_mtime_ns, st.st_size)
        except OSError:
            sig = None
        key = str(folder)
        cached = self._packs.get(key)
        if cached is not None and cached[0] == sig:
            return cached[1]
        if sig is None or manifest.is_symlink():
            data = PackData(folder=folder, calls=pd.DataFrame(columns=["call_id"]))
        else:
            rows = store.read_file(manifest, store.SCRUTINY_PACK).sort_values("page")
            rows = rows.drop_duplicates("call_id").reset_index(drop=True)
            audio: dict[str, Path] = {}
            for call_id, name in zip(rows["call_id"], rows["audio"], strict=True):
                path = safe_file(folder, name) if isinstance(name, str) else None
                if path is not None and path.suffix.lower() in AUDIO_TYPES:
                    audio[call_id] = path
            data = PackData(folder=folder, calls=rows, audio=audio)
        self._packs[key] = (sig, data)
        return data
