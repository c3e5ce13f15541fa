"""A small nightly output folder for the review tests, written by the pipeline's own writers.

Each call is made as the nightly run makes it (flows/nightly.py): a `SampledCall`, a `Transcript`
and the `Tags` the tagger would give become a scorecard (`build_scorecard`) and turn rows
(`transcript_rows`, `restricted_rows`), written with `store.write_partition`. The sample
manifest and the estimates go through the same writers and schemas, and the scrutiny pack is
written by `pipeline.report`'s pack writers, as `callqa scrutiny-sample` runs them. Calls, words,
tags and figures are made up so each test knows what to expect; the expectations come from what
this wrote (`BuiltOutput`) or from its Parquet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import store
from pipeline.audio import AudioMetrics
from pipeline.redact import PIISpan
from pipeline.report import (
    choose_scrutiny_calls,
    write_scrutiny_index,
    write_scrutiny_manifest,
    write_scrutiny_page,
)
from pipeline.scorecard import (
    SampledCall,
    Thresholds,
    build_scorecard,
    restricted_rows,
    transcript_rows,
)
from pipeline.tagging import Evidence, QAChecks, RedactedTurn, Tags, load_qa_weights
from pipeline.transcribe import Transcript, Turn, Word

__all__ = [
    "AGENTS",
    "PREVIOUS_MONTH",
    "QUEUES",
    "BuiltOutput",
    "build_output",
    "copy_output",
    "rewrite_night",
    "write_wav",
]

#: A second month of estimates (before the calls' month), for the trends.
PREVIOUS_MONTH = "2025-02"
FIRST_NIGHT = date(2025, 3, 3)
#: Every call's length: its recording, its transcript and its call log row.
CALL_S = 4.0
RUN_ID = "run-1"
#: Calls in the scrutiny pack.
PACK_SIZE = 5

#: queue -> (contact reason, what the caller rings about).
QUEUES = {
    "council_tax": ("council_tax", "I'm ringing about my council tax bill, it's gone up again"),
    "waste": ("waste_recycling", "my green bin wasn't collected on Tuesday"),
    "housing": (
        "housing_repairs",
        "I reported a leak in my kitchen three weeks ago and nobody came",
    ),
    "parking": ("parking", "I got a parking ticket outside my own house"),
}
AGENTS = [("A101", "Blue"), ("A102", "Blue"), ("A203", "Green"), ("A204", "Green"), ("A305", "Red")]
NAMES = ["Jane Smith", "Tom Okafor", "Priya Patel", "Gareth Jones", "Mary O'Neill"]
POSTCODES = ["LS1 4AB", "BD7 1DP", "HX1 2RE", "WF1 3JT", "HD1 5QA"]
CHECKS = ("greeting", "agent_named", "id_check", "anything_else_offered", "closing")

#: What the safeguarding call's caller says, and the words its evidence quotes.
DISCLOSURE = "Also the little boy next door, he's five, has been left on his own since Friday."
DISCLOSED = "left on his own since Friday"
#: The words behind the complaint and the avoidable contact: (turn, text).
COMPLAINT = (5, "I want to make a complaint")
CHASING = (4, "third time you've called")


@dataclass
class BuiltOutput:
    """Where `build_output` wrote, and what it wrote there that the tests expect."""

    out_dir: Path
    recordings_dir: Path
    pack_dir: Path
    packs_dir: Path
    call_ids: list[str]
    flagged: list[str]
    pack_calls: list[str]
    with_audio: list[str]
    dates: list[str]
    month: str
    #: The caller's name in each call (of call_ids): said in the call, redacted in transcripts/.
    secrets: list[str] = field(default_factory=list)
    #: The safeguarding call (a housing complaint where a child is at risk), last of call_ids.
    safeguarding: str = ""
    #: Each pack call's silenced audio in the pack folder (None: not included), in page order.
    pack_audio: list[str | None] = field(default_factory=list)


@dataclass(frozen=True)
class _Call:
    """One made-up call: what the call log says of it and what the tagger is to find."""

    index: int
    day: date
    queue: str
    agent_id: str
    team: str
    caller: str  # the caller's name and postcode, said in turn 3
    postcode: str
    checks: dict[str, bool]
    complaint: bool
    avoidable: bool
    repeat_caller: bool
    transferred: bool
    online_account: bool  # a second contact reason
    targeted: bool
    confidence: float
    safeguarding: bool = False

    @property
    def call_id(self) -> str:
        return f"C{self.day.isoformat().replace('-', '')}-{self.index:04d}"

    @property
    def recording(self) -> str:
        return f"{self.day.isoformat()}/{self.call_id}.wav"


def write_wav(path: Path, seconds: float = 6.0, rate: int = 8000) -> None:
    """A quiet two-tone stereo WAV a browser can play."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    left = 3000 * np.sin(2 * np.pi * 440 * t)
    right = 3000 * np.sin(2 * np.pi * 660 * t)
    frames = np.stack([left, right], axis=1).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def copy_output(built: BuiltOutput, root: Path) -> BuiltOutput:
    """A copy of `built` (everything under its root) under `root`, for a test that changes
    what it reads: one build serves a whole session."""
    old = built.out_dir.parent
    shutil.copytree(old, root, dirs_exist_ok=True)

    def moved(path: Path) -> Path:
        return root / path.relative_to(old)

    return dataclasses.replace(
        built,
        out_dir=moved(built.out_dir),
        recordings_dir=moved(built.recordings_dir),
        pack_dir=moved(built.pack_dir),
        packs_dir=moved(built.packs_dir),
    )


def rewrite_night(
    out: Path, table: store.TableSpec, day: date, change: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    """Rewrite one night of `table` with `change` applied, as an erasure rewrites it."""
    rows = store.read_table(out, table, start=day, end=day)
    store.write_partition(out, table, day, change(rows))


def _regular(index: int, day: date, rng: np.random.Generator) -> _Call:
    queue = list(QUEUES)[index % len(QUEUES)]
    agent_id, team = AGENTS[index % len(AGENTS)]
    return _Call(
        index=index,
        day=day,
        queue=queue,
        agent_id=agent_id,
        team=team,
        caller=NAMES[index % len(NAMES)],
        postcode=POSTCODES[index % len(POSTCODES)],
        checks={c: bool(rng.random() > 0.25) for c in CHECKS},
        complaint=index % 5 == 0,
        avoidable=index % 3 == 0,
        repeat_caller=index % 4 == 0,
        transferred=index % 9 == 0,
        online_account=index % 7 == 0,
        targeted=index % 6 == 0,
        confidence=float(0.6 + 0.3 * rng.random()),
    )


def _safeguarding(index: int, day: date) -> _Call:
    """A housing complaint where the caller says a child is left alone."""
    agent_id, team = AGENTS[0]
    return _Call(
        index=index,
        day=day,
        queue="housing",
        agent_id=agent_id,
        team=team,
        caller=NAMES[0],
        postcode=POSTCODES[0],
        checks={c: c != "anything_else_offered" for c in CHECKS},
        complaint=True,
        avoidable=False,
        repeat_caller=False,
        transferred=False,
        online_account=False,
        targeted=False,
        confidence=0.8,
        safeguarding=True,
    )


def _conversation(call: _Call) -> list[tuple[str, str, str]]:
    """(speaker, what was said, the redacted text) of each turn."""
    ask = QUEUES[call.queue][1]
    pretty = call.queue.replace("_", " ")
    greeting = f"Good morning, you're through to {pretty}, my name is Sam, how can I help?"
    said = [
        ("agent", greeting),
        ("caller", f"Hello, {ask}."),
        ("agent", "I can help with that. Can I take your name and postcode please?"),
        ("caller", f"It's {call.caller}, {call.postcode}."),
        (
            "agent",
            "Thank you. I can see the account. "
            "This is the third time you've called about it, I'm sorry.",
        ),
        ("caller", "Honestly I want to make a complaint, nobody ever rings back."),
        ("agent", "I understand. I've logged that and the team will call you within two days."),
        ("caller", "Okay, thanks."),
    ]
    if call.safeguarding:
        said.insert(6, ("caller", DISCLOSURE))
    turns = [(speaker, text, text) for speaker, text in said]
    turns[3] = ("caller", said[3][1], "It's [PERSON_NAME], [POSTCODE].")
    return turns


def _transcript(call: _Call, conversation: list[tuple[str, str, str]]) -> Transcript:
    """What transcription makes of the call: turns spread over its length, word by word."""
    turns = []
    for i, (speaker, text, _redacted) in enumerate(conversation):
        start = CALL_S * i / len(conversation)
        end = CALL_S * (i + 1) / len(conversation)
        spoken = text.split()
        step = (end - start) / len(spoken)
        words = [
            Word(start + k * step, start + (k + 1) * step, w, call.confidence)
            for k, w in enumerate(spoken)
        ]
        turns.append(Turn(speaker, start, end, text, call.confidence, words))  # type: ignore[arg-type]
    return Transcript(
        file=call.recording,
        duration_s=CALL_S,
        layout="agent_left",
        confidence=call.confidence,
        status="ok",
        reason=None,
        turns=turns,
        metrics=AudioMetrics(
            duration_s=CALL_S,
            talk_ratio_agent=0.55,
            silence_ratio=0.1,
            longest_silence_s=0.5,
            overtalk_s=1.5,
        ),
        low_confidence=False,
        model="tiny.en",
        audio_sha256=hashlib.sha256(call.call_id.encode()).hexdigest(),
    )


def _tags(call: _Call, conversation: list[tuple[str, str, str]]) -> Tags:
    """The tags the tagger is to give, with the words behind them (named as the tagger names
    them) and the caller's name and postcode as personal data."""
    reason = QUEUES[call.queue][0]
    evidence = [Evidence(f"contact_reasons:{reason}", 1, QUEUES[call.queue][1], "r")]
    if call.avoidable:
        evidence.append(Evidence("avoidable_category:progress_chasing", *CHASING, "r"))
    if call.complaint:
        evidence.append(Evidence("complaint", *COMPLAINT, "r"))
    if call.safeguarding:
        evidence.append(Evidence("vulnerability:child_at_risk", 6, DISCLOSED, "r"))
    said = conversation[3][1]
    name_at, post_at = said.index(call.caller), said.index(call.postcode)
    return Tags(
        contact_reasons=[reason] + (["online_account"] if call.online_account else []),
        primary_reason=reason,
        avoidable=call.avoidable,
        avoidable_category="progress_chasing" if call.avoidable else None,
        complaint=call.complaint,
        transferred=call.transferred,
        qa=QAChecks(**call.checks),
        evidence=sorted(evidence, key=lambda e: e.turn),
        pii=[
            PIISpan("person_name", 3, name_at, name_at + len(call.caller)),
            PIISpan("postcode", 3, post_at, post_at + len(call.postcode)),
        ],
        redacted_turns=[RedactedTurn(speaker, redacted) for speaker, _, redacted in conversation],
        vulnerability=["child_at_risk"] if call.safeguarding else [],
        safeguarding=call.safeguarding,
    )


def _sampled(call: _Call) -> SampledCall:
    return SampledCall(
        call_id=call.call_id,
        call_date=call.day,
        started_at=datetime(call.day.year, call.day.month, call.day.day, 8, tzinfo=UTC)
        + timedelta(minutes=7 * call.index),
        agent_id=call.agent_id,
        team=call.team,
        queue=call.queue,
        duration_s=CALL_S,
        direction="inbound",
        recording=call.recording,
        channel_layout="agent_left",
        sample_kind="targeted" if call.targeted else "random",
        stratum=call.queue,
        inclusion_prob=None if call.targeted else 0.05,
        weight=None if call.targeted else 20.0,
        repeat_caller=call.repeat_caller,
        prior_calls_window=3 if call.repeat_caller else 0,
    )


def _sample_row(sampled: SampledCall) -> dict[str, Any]:
    """The call's row of the night's sample manifest."""
    reason = (
        f"targeted: queue {sampled.queue} is under watch"
        if sampled.sample_kind == "targeted"
        else f"random: drawn at random within queue {sampled.queue} (200 eligible calls), "
        "inclusion probability 0.05"
    )
    return dataclasses.asdict(sampled) | {
        "caller_hash": hashlib.sha256(f"caller {sampled.call_id}".encode()).hexdigest(),
        "stratum_population": 200,
        "stratum_sample_size": 10,
        "reason_picked": reason,
        "seed": 1,
        "method": "stratified(queue)",
        "population": 800,
        "run_id": RUN_ID,
    }


def _write_night(out: Path, day: date, calls: list[_Call]) -> list[dict[str, Any]]:
    """Every table of one night, scorecards last as the nightly run writes them; returns the
    scorecard rows."""
    samples, cards, turns, restricted = [], [], [], []
    weights = load_qa_weights()
    for call in calls:
        conversation = _conversation(call)
        transcript = _transcript(call, conversation)
        tags = _tags(call, conversation)
        sampled = _sampled(call)
        card = build_scorecard(
            sampled, transcript, tags, qa_weights=weights, thresholds=Thresholds(), run_id=RUN_ID
        )
        samples.append(_sample_row(sampled))
        cards.append(card.row())
        turns += transcript_rows(call.call_id, transcript, tags)
        restricted += restricted_rows(call.call_id, transcript, tags)
    store.write_partition(out, store.SAMPLES, day, samples)
    store.write_partition(out, store.TRANSCRIPTS, day, turns)
    store.write_partition(out, store.RESTRICTED, day, restricted)
    store.write_partition(out, store.SCORECARDS, day, cards)
    return cards


def _estimates(month: str, n_sampled: int) -> list[dict[str, Any]]:
    """The month's figures (made up) as the monthly report's estimates rows."""
    figures = [
        ("avoidable_rate", "all", 0.31),
        ("complaint_rate", "all", 0.12),
        ("transferred_rate", "all", 0.08),
        ("repeat_caller_rate", "all", 0.22),
    ]
    for queue, (reason, _ask) in QUEUES.items():
        figures.append((f"reason:{reason}", "all", 0.1 + 0.05 * len(queue) / 4))
        figures.append(("avoidable_rate", f"queue:{queue}", 0.2 + 0.03 * len(queue)))
    figures += [
        ("avoidable_category:progress_chasing", "all", 0.14),
        ("avoidable_category:repeat_contact", "all", 0.08),
        ("avoidable_category:self_serve_available", "all", 0.06),
    ]
    figures += [
        (f"qa:{check}", "all", rate)
        for check, rate in zip(CHECKS, (0.93, 0.81, 0.74, 0.58, 0.88), strict=True)
    ]
    return [
        {
            "metric": metric,
            "group": group,
            "estimate": value,
            "ci_low": max(0.0, value - 0.04),
            "ci_high": min(1.0, value + 0.04),
            "n_sampled": n_sampled,
            "population": 12480,
            "method": "taylor-logit stratified (samplics)",
            "month": month,
            "previous_estimate": None,
            "change": None,
            "n_reviewed": None,
        }
        for metric, group, value in figures
    ]


def _previous(rows: list[dict[str, Any]], n_sampled: int) -> list[dict[str, Any]]:
    """The month before (PREVIOUS_MONTH), for the trends: other figures, one avoidable category
    without an estimate (a gap), and the callers' sentiment (a mean only this month has)."""
    earlier = [
        row
        | {
            "estimate": max(0.0, row["estimate"] - 0.05),
            "ci_low": max(0.0, row["ci_low"] - 0.07),
            "ci_high": min(1.0, row["ci_high"] - 0.03),
            "n_sampled": n_sampled - 4,
            "month": PREVIOUS_MONTH,
        }
        for row in rows
        if row["metric"] != "avoidable_category:self_serve_available"
    ]
    sentiment = earlier[0] | {
        "metric": "mean:caller_sentiment",
        "estimate": 0.21,
        "ci_low": 0.12,
        "ci_high": 0.3,
        "n_sampled": n_sampled - 6,
        "population": 12000,
        "method": "taylor mean stratified (samplics)",
    }
    return [*earlier, sentiment]


def _write_reports(out: Path, month: str, n_sampled: int) -> None:
    """Both months' estimates, each compared with the month before as the report does, and a
    stand-in report page for the calls' month (the app serves it as it is, sandboxed; the real
    page is checked in tests/review_app/test_review_accessibility.py)."""
    current = _estimates(month, n_sampled)
    earlier = _previous(current, n_sampled)
    before = {(r["metric"], r["group"]): r["estimate"] for r in earlier}
    for row in current:
        row["previous_estimate"] = before.get((row["metric"], row["group"]))
        if row["previous_estimate"] is not None:
            row["change"] = row["estimate"] - row["previous_estimate"]
    for name, rows in ((month, current), (PREVIOUS_MONTH, earlier)):
        store.write_file(out / "reports" / name / "estimates.parquet", store.ESTIMATES, rows)
    (out / "reports" / month / "report.html").write_text(
        "<html><body><h1>Monthly report</h1><script>window.evil = 1</script></body></html>"
    )


def _write_pack(
    out: Path, recordings: Path, pack: Path, nights: list[date], with_audio: set[str]
) -> pd.DataFrame:
    """A scrutiny pack of the nights, as `callqa scrutiny-sample` writes it; returns its
    manifest in page order. The seed is the first whose first two calls have a recording (the
    pack tests play them), when any call has one."""
    start, end = nights[0], nights[-1]
    for seed in range(100):
        chosen = choose_scrutiny_calls(out, start, end, PACK_SIZE, seed)
        if not with_audio or {c.call_id for c in chosen[:2]} <= with_audio:
            break
    rows = [write_scrutiny_page(out, recordings, pack, call) for call in chosen]
    write_scrutiny_manifest(pack, chosen)
    write_scrutiny_index(pack, rows, start=start, end=end)
    manifest = store.read_file(pack / store.PACK_FILE, store.SCRUTINY_PACK)
    return manifest.sort_values("page").reset_index(drop=True)


def build_output(
    root: Path, *, n_calls: int = 40, days: int = 3, seed: int = 7, audio: bool = True
) -> BuiltOutput:
    """Write `n_calls` calls over `days` nights and a safeguarding call the night after, with
    their samples, transcripts and restricted turns, two months of estimates and a scrutiny
    pack. Every other call's recording is in the recordings folder (none with `audio=False`,
    for big load-test outputs); the rest name a file the folder no longer holds."""
    rng = np.random.default_rng(seed)
    out, recordings, packs = root / "out", root / "recordings", root / "packs"
    nights = [FIRST_NIGHT + timedelta(days=d) for d in range(days + 1)]
    calls = [_regular(i, nights[i % days], rng) for i in range(n_calls)]
    calls.append(_safeguarding(n_calls, nights[-1]))
    with_audio = [c for c in calls if audio and (c.index % 2 == 0 or c.safeguarding)]
    for call in with_audio:
        write_wav(recordings / call.recording, seconds=CALL_S)
    cards: dict[str, dict[str, Any]] = {}
    for night in nights:
        written = _write_night(out, night, [c for c in calls if c.day == night])
        cards |= {card["call_id"]: card for card in written}
    month = FIRST_NIGHT.isoformat()[:7]
    _write_reports(out, month, n_calls)
    call_ids = [c.call_id for c in calls]
    manifest = _write_pack(
        out, recordings, packs / "march", nights, {c.call_id for c in with_audio}
    )
    return BuiltOutput(
        out_dir=out,
        recordings_dir=recordings,
        pack_dir=packs / "march",
        packs_dir=packs,
        call_ids=call_ids,
        flagged=[c for c in call_ids if cards[c]["needs_review"]],
        pack_calls=list(manifest["call_id"]),
        with_audio=[c.call_id for c in with_audio],
        dates=[n.isoformat() for n in nights],
        month=month,
        secrets=[c.caller for c in calls],
        safeguarding=calls[-1].call_id,
        pack_audio=[None if pd.isna(a) else str(a) for a in manifest["audio"]],
    )
