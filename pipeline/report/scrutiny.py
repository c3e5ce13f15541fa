"""Scrutiny packs: a seeded random sample of scored calls for councillors to read and hear.

Each call gets a page (templates/scrutiny_call.html) with the redacted transcript, its tags in
plain words and the audio with personal data silenced; calls and agents appear only under
pseudonyms (Call 1, Agent 1) that mean nothing outside the pack. Its `pack.parquet`
(`store.SCRUTINY_PACK`) tells the review app which call each page and recording is; the pages
and index (templates/scrutiny_index.html) that councillors read never carry a call id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import store
from pipeline.errors import CallQAError, StoreError
from pipeline.recordings import resolve_recording
from pipeline.report.cells import list_cell, map_cell
from pipeline.report.pages import render_page, write_text
from pipeline.vocabulary import Vocabulary, load_vocabulary

__all__ = [
    "ScrutinyCall",
    "choose_scrutiny_calls",
    "write_scrutiny_index",
    "write_scrutiny_manifest",
    "write_scrutiny_page",
]


@dataclass(frozen=True)
class ScrutinyCall:
    """One call chosen for a scrutiny pack, known in the pack only by its pseudonyms."""

    call_id: str
    call_date: date
    label: str
    page: str
    agent: str
    recording: str | None
    channel_layout: str


@dataclass(frozen=True)
class CallFacts:
    """What a call's page says about it, in plain words."""

    queue: str
    main_reason: str
    reasons: str
    avoidable: str
    #: The avoidable contact's kind, only where the call was avoidable.
    category: str | None
    complaint: str
    transferred: str
    quality_score: str
    flags: tuple[str, ...]
    #: (label, "Yes" or "No") for each quality check.
    checks: tuple[tuple[str, str], ...]


def choose_scrutiny_calls(
    out: Path, start: date, end: date, size: int, seed: int
) -> list[ScrutinyCall]:
    """A seeded simple random sample of the calls scored from `start` to `end` (inclusive).

    The same scorecards, period, size and seed always give the same calls. Agents are renamed
    Agent 1, 2, ... in order of first appearance in the pack; calls are Call 1, 2, ...
    """
    cards = store.read_table(out, store.SCORECARDS, start=start, end=end)
    cards = cards[cards["transcript_status"] != "unreadable"].sort_values("call_id")
    if cards.empty:
        raise StoreError(f"no scored calls from {start} to {end} under {out}: run callqa nightly")
    rng = np.random.default_rng([seed % 2**64, start.toordinal(), end.toordinal()])
    picked = cards.iloc[np.sort(rng.choice(len(cards), size=min(size, len(cards)), replace=False))]
    picked = picked.sort_values(["call_date", "call_id"]).reset_index(drop=True)
    agents: dict[str, str] = {}
    chosen = []
    for i, row in enumerate(picked.itertuples(), start=1):
        agent = agents.setdefault(str(row.agent_id), f"Agent {len(agents) + 1}")
        chosen.append(
            ScrutinyCall(
                call_id=str(row.call_id),
                call_date=row.call_date,
                label=f"Call {i}",
                page=f"call-{i:03d}.html",
                agent=agent,
                recording=None if pd.isna(row.recording) else str(row.recording),
                channel_layout=str(row.channel_layout or "agent_left"),
            )
        )
    return chosen


def _plain(name: str | None) -> str:
    return "–" if not name else name.replace("_", " ").capitalize()


def _yes(value: object) -> str:
    return "Yes" if bool(value) else "No"


def _audio_name(call: ScrutinyCall) -> str:
    """The silenced recording's file name in the pack: the page's, as .opus."""
    return call.page.removesuffix(".html") + ".opus"


def _call_rows(out: Path, table: store.TableSpec, call: ScrutinyCall) -> pd.DataFrame:
    """The call's rows of a dated table."""
    rows = store.read_table(out, table, start=call.call_date, end=call.call_date)
    return rows[rows["call_id"] == call.call_id]


def _silence_recording(out: Path, recordings: Path, pack: Path, call: ScrutinyCall) -> str | None:
    """Copy the call's recording into the pack with every personal-data span silenced; its
    file name there, or None when the recording cannot be read."""
    from pipeline.redact import silence_pii_audio
    from pipeline.tagging import PIISpan
    from pipeline.transcribe import Turn, Word

    audio_name = _audio_name(call)
    # A pack written again into the same folder must not keep another call's recording.
    (pack / audio_name).unlink(missing_ok=True)
    checked = resolve_recording(recordings, call.recording)
    if checked.path is None:
        return None
    raw = _call_rows(out, store.RESTRICTED, call).sort_values("turn")
    spoken = [
        Turn(
            r.speaker,
            r.start_s,
            r.end_s,
            r.text,
            r.confidence,
            [Word(w["start_s"], w["end_s"], w["text"], w["probability"]) for w in r.words],
        )
        for r in raw.itertuples()
    ]
    spans = [
        PIISpan(p["type"], int(r.turn), int(p["start"]), int(p["end"]))
        for r in raw.itertuples()
        for p in r.pii
    ]
    try:
        silence_pii_audio(
            checked.path, pack / audio_name, spoken, spans, layout=call.channel_layout
        )
    except CallQAError:
        return None
    return audio_name


def _call_facts(card: pd.Series, vocabulary: Vocabulary) -> CallFacts:
    """The scorecard `card` in plain words (`vocabulary`'s labels)."""
    names = vocabulary.metric_labels()

    def reason(r: str | None) -> str:
        return names.get(f"reason:{r}", _plain(r))

    checks = map_cell(card["qa_checks"])
    category = card["avoidable_category"]
    return CallFacts(
        queue=_plain(card["queue"]),
        main_reason=reason(card["primary_reason"]),
        reasons=", ".join(reason(r) for r in card["contact_reasons"]),
        avoidable=_yes(card["avoidable"]),
        category=names.get(f"avoidable_category:{category}", _plain(category))
        if card["avoidable"]
        else None,
        complaint=_yes(card["complaint"]),
        transferred=_yes(card["transferred"]),
        quality_score=f"{card['qa_score']:.0f}",
        flags=tuple(
            names.get(f"tags:{family}:{t}", _plain(t))
            for family, ids in map_cell(card["tags"]).items()
            for t in list_cell(ids)
        ),
        checks=tuple(
            (c.label, _yes(card[c.id] if c.id in card.index else checks.get(c.id)))
            for c in vocabulary.checks
        ),
    )


def write_scrutiny_page(
    out: Path,
    recordings: Path,
    pack: Path,
    call: ScrutinyCall,
    *,
    models_dir: Path | None = None,
) -> dict[str, object]:
    """Write one call's page (and its silenced audio); returns the call's index row.

    The page holds the redacted transcript, the tags in plain words (`models_dir`'s labels) and,
    when the recording can be read, a copy of the audio with every personal-data span silenced.
    Nothing on it names the caller or the agent, nor gives the call's id or time.
    """
    from pipeline.agentnames import redact_agent_names

    card = _call_rows(out, store.SCORECARDS, call).iloc[0]
    turns = _call_rows(out, store.TRANSCRIPTS, call).sort_values("turn")
    audio = _silence_recording(out, recordings, pack, call)
    who = {"agent": call.agent, "caller": "Caller"}
    # "My name is Sam" beside "Agent 1" would undo the pseudonym: spoken names go too.
    lines = [
        (who.get(r.speaker, "Speaker"), redact_agent_names(str(r.text))) for r in turns.itertuples()
    ]
    page = render_page(
        "scrutiny_call.html",
        print_title=call.label,
        call=call,
        audio=audio,
        facts=_call_facts(card, load_vocabulary(models_dir)),
        lines=lines,
    )
    write_text(pack / call.page, page)
    return {
        "call": call.label,
        "date": call.call_date.isoformat(),
        "agent": call.agent,
        "queue": _plain(card["queue"]),
        "main_reason": _plain(card["primary_reason"]),
        "avoidable": _yes(card["avoidable"]),
        "complaint": _yes(card["complaint"]),
        "quality_score": round(float(card["qa_score"])),
        "page": call.page,
    }


def write_scrutiny_manifest(pack: Path, calls: Sequence[ScrutinyCall]) -> Path:
    """`pack.parquet`: each call's id with its page and silenced recording (file names in the
    pack; `audio` is null where the recording could not be included), for the review app."""
    rows = [
        {
            "call_id": call.call_id,
            "page": call.page,
            "audio": _audio_name(call) if (pack / _audio_name(call)).is_file() else None,
        }
        for call in calls
    ]
    return store.write_file(pack / store.PACK_FILE, store.SCRUTINY_PACK, rows)


def write_scrutiny_index(
    pack: Path, rows: Sequence[Mapping[str, object]], *, start: date, end: date
) -> Path:
    """`index.html` and `index.csv` of a pack (CSV cells never start a spreadsheet formula)."""
    frame = pd.DataFrame(list(rows))
    write_text(pack / "index.csv", frame.map(store.safe_csv_cell).to_csv(index=False))
    page = render_page(
        "scrutiny_index.html",
        print_title=f"Scrutiny sample, {start} to {end}",
        start=start,
        end=end,
        rows=rows,
    )
    write_text(pack / "index.html", page)
    return pack / "index.html"
