"""Writes a small nightly output folder in exactly DESIGN.md's columns, for the review tests.

The nightly flow is built elsewhere; these tests must not depend on it or on code under test,
so this writes Parquet directly with pandas. Calls, words and figures are made up; the
expectations the tests check come from what this builder wrote (returned as `BuiltOutput`).
One more call, a safeguarding one (`BuiltOutput.safeguarding`), is written the day after the
others by the pipeline's own writers (`build_scorecard`, `store.write_partition`), so its row
has every scorecard column, `vulnerability` and `safeguarding` among them.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import store
from pipeline.audio import AudioMetrics
from pipeline.redact import PIISpan
from pipeline.scorecard import (
    SampledCall,
    Thresholds,
    build_scorecard,
    restricted_rows,
    transcript_rows,
)
from pipeline.tagging import Evidence, QAChecks, RedactedTurn, Tags, load_qa_weights
from pipeline.transcribe import Transcript, Turn, Word

__all__ = ["PREVIOUS_MONTH", "BuiltOutput", "build_output", "write_wav"]

#: A second month of estimates (before the calls' month), for the trends.
PREVIOUS_MONTH = "2025-02"

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


@dataclass
class BuiltOutput:
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
    secrets: list[str] = field(default_factory=list)
    #: The safeguarding call (a housing complaint where a child is at risk), last of call_ids.
    safeguarding: str = ""


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


def _turns(queue: str, name: str, postcode: str, agent_first: str) -> list[tuple[str, str, str]]:
    """(speaker, unredacted text, redacted text) for one call."""
    _reason, ask = QUEUES[queue]
    pretty = queue.replace("_", " ")
    return [
        (
            "agent",
            f"Good morning, you're through to {pretty}, my name is {agent_first}, how can I help?",
            f"Good morning, you're through to {pretty}, my name is {agent_first}, how can I help?",
        ),
        ("caller", f"Hello, {ask}.", f"Hello, {ask}."),
        (
            "agent",
            "I can help with that. Can I take your name and postcode please?",
            "I can help with that. Can I take your name and postcode please?",
        ),
        ("caller", f"It's {name}, {postcode}.", "It's [PERSON_NAME], [POSTCODE]."),
        (
            "agent",
            "Thank you. I can see the account. This is the third time you've called about it, I'm sorry.",
            "Thank you. I can see the account. This is the third time you've called about it, I'm sorry.",
        ),
        (
            "caller",
            "Honestly I want to make a complaint, nobody ever rings back.",
            "Honestly I want to make a complaint, nobody ever rings back.",
        ),
        (
            "agent",
            "I understand. I've logged that and the team will call you within two days.",
            "I understand. I've logged that and the team will call you within two days.",
        ),
        ("caller", "Okay, thanks.", "Okay, thanks."),
    ]


#: What the safeguarding call's caller says, and the words its evidence quotes.
DISCLOSURE = "Also the little boy next door, he's five, has been left on his own since Friday."
DISCLOSED = "left on his own since Friday"


def _safeguarding_call(out: Path, recordings: Path, day: date, index: int, audio: bool) -> str:
    """Write one safeguarding call (scorecard, redacted and restricted turns) for `day`, made
    as the nightly run makes it; returns its call id."""
    call_id = f"C{day.isoformat().replace('-', '')}-{index:04d}"
    agent_id, team = AGENTS[0]
    rec = f"{day.isoformat()}/{call_id}.wav" if audio else None
    if rec:
        write_wav(recordings / rec, seconds=4.0)
    conv = _turns("housing", NAMES[0], POSTCODES[0], "Sam")
    conv.insert(6, ("caller", DISCLOSURE, DISCLOSURE))
    spoken = []
    for i, (speaker, raw, _red) in enumerate(conv):
        start = 4.0 * i / len(conv)
        words = [Word(start, start + 0.1, w, 0.8) for w in raw.split()]
        spoken.append(Turn(speaker, start, 4.0 * (i + 1) / len(conv), raw, 0.8, words))  # type: ignore[arg-type]
    transcript = Transcript(
        file=rec or "",
        duration_s=4.0,
        layout="agent_left",
        confidence=0.8,
        status="ok",
        reason=None,
        turns=spoken,
        metrics=AudioMetrics(
            duration_s=4.0,
            talk_ratio_agent=0.55,
            silence_ratio=0.1,
            longest_silence_s=0.5,
            overtalk_s=0.2,
        ),
        low_confidence=False,
        model="tiny.en",
        audio_sha256="0" * 64,
    )
    name_at = conv[3][1].index(NAMES[0])
    post_at = conv[3][1].index(POSTCODES[0])
    tags = Tags(
        contact_reasons=["housing_repairs"],
        primary_reason="housing_repairs",
        avoidable=False,
        avoidable_category=None,
        complaint=True,
        transferred=False,
        qa=QAChecks(greeting=True, agent_named=True, id_check=True, closing=True),
        evidence=[
            Evidence("housing_repairs", 1, QUEUES["housing"][1], "r"),
            Evidence("complaint", 5, "I want to make a complaint", "r"),
            Evidence("vulnerability:child_at_risk", 6, DISCLOSED, "r"),
        ],
        pii=[
            PIISpan("person_name", 3, name_at, name_at + len(NAMES[0])),
            PIISpan("postcode", 3, post_at, post_at + len(POSTCODES[0])),
        ],
        redacted_turns=[RedactedTurn(speaker, red) for speaker, _raw, red in conv],
        vulnerability=["child_at_risk"],
        safeguarding=True,
    )
    sampled = SampledCall(
        call_id=call_id,
        call_date=day,
        started_at=None,
        agent_id=agent_id,
        team=team,
        queue="housing",
        duration_s=180.0,
        direction="inbound",
        recording=rec,
        channel_layout="agent_left",
        sample_kind="random",
        stratum="housing",
        inclusion_prob=0.05,
        weight=20.0,
        repeat_caller=False,
        prior_calls_window=0,
    )
    card = build_scorecard(
        sampled,
        transcript,
        tags,
        qa_weights=load_qa_weights(),
        thresholds=Thresholds(),
        run_id="run-1",
    )
    store.write_partition(out, store.SCORECARDS, day, [card.row()])
    store.write_partition(out, store.TRANSCRIPTS, day, transcript_rows(call_id, transcript, tags))
    store.write_partition(out, store.RESTRICTED, day, restricted_rows(call_id, transcript, tags))
    return call_id


def build_output(
    root: Path, *, n_calls: int = 40, days: int = 3, seed: int = 7, audio: bool = True
) -> BuiltOutput:
    """Write scorecards, samples, transcripts, restricted, a monthly report and a scrutiny pack
    (`audio=False` leaves out the call recordings, for big load-test outputs)."""
    rng = np.random.default_rng(seed)
    out = root / "out"
    recordings = root / "recordings"
    packs = root / "packs"
    pack = packs / "march"
    first = date(2025, 3, 3)
    dates = [(first + timedelta(days=d)).isoformat() for d in range(days)]
    cards, samples, turns, restricted = [], [], [], []
    call_ids, flagged, with_audio, secrets = [], [], [], []
    for i in range(n_calls):
        call_date = dates[i % days]
        call_id = f"C{call_date.replace('-', '')}-{i:04d}"
        queue = list(QUEUES)[i % len(QUEUES)]
        reason = QUEUES[queue][0]
        agent_id, team = AGENTS[i % len(AGENTS)]
        complaint = i % 5 == 0
        avoidable = i % 3 == 0
        checks = {
            c: bool(rng.random() > 0.25)
            for c in ("greeting", "agent_named", "id_check", "anything_else_offered", "closing")
        }
        qa_score = float(round(100 * sum(checks.values()) / 5 - rng.integers(0, 8)))
        flags = [
            f
            for f, on in (
                ("complaint", complaint),
                ("avoidable", avoidable),
                ("low_qa", qa_score < 60),
                ("repeat_caller", i % 4 == 0),
            )
            if on
        ]
        needs_review = bool(flags)
        name, postcode = NAMES[i % len(NAMES)], POSTCODES[i % len(POSTCODES)]
        secrets.append(name)
        rec = f"{call_date}/{call_id}.wav" if i % 2 == 0 and audio else None
        if rec:
            write_wav(recordings / rec, seconds=4.0)
            with_audio.append(call_id)
        conv = _turns(queue, name, postcode, "Sam")
        evidence = [{"tag": reason, "turn": 1, "text": QUEUES[queue][1]}]
        if complaint:
            evidence.append({"tag": "complaint", "turn": 5, "text": "I want to make a complaint"})
        if avoidable:
            evidence.append(
                {"tag": "progress_chasing", "turn": 4, "text": "third time you've called"}
            )
        cards.append(
            {
                "call_id": call_id,
                "call_date": call_date,
                "agent_id": agent_id,
                "team": team,
                "queue": queue,
                "duration_s": float(120 + 13 * i),
                "sample_kind": "random" if i % 6 else "targeted",
                "stratum": queue,
                "inclusion_prob": 0.05,
                "weight": 20.0,
                "transcript_confidence": float(0.6 + 0.3 * rng.random()),
                "contact_reasons": [reason] + (["online_account"] if i % 7 == 0 else []),
                "primary_reason": reason,
                "avoidable": avoidable,
                "avoidable_category": "progress_chasing" if avoidable else None,
                "repeat_caller": i % 4 == 0,
                "prior_calls_window": 3 if i % 4 == 0 else 0,
                **checks,
                "complaint": complaint,
                "transferred": i % 9 == 0,
                "talk_ratio_agent": 0.55,
                "silence_ratio": 0.1,
                "overtalk_s": 1.5,
                "pii_redactions": 2,
                "qa_score": qa_score,
                "flags": flags,
                "needs_review": needs_review,
                "run_id": "run-1",
                "pipeline_version": "0.1.0",
                "evidence": evidence,
            }
        )
        samples.append(
            {
                "call_id": call_id,
                "call_date": call_date,
                "stratum": queue,
                "inclusion_prob": 0.05,
                "weight": 20.0,
                "sample_kind": "random",
                "reason": "random draw",
                "seed": 1,
                "population": 800,
                "recording": rec,
            }
        )
        for t, (speaker, raw, red) in enumerate(conv):
            base = {
                "call_id": call_id,
                "call_date": call_date,
                "turn": t,
                "speaker": speaker,
                "start_s": 4.0 * t / len(conv),
                "end_s": 4.0 * (t + 1) / len(conv),
                "confidence": 0.8,
            }
            turns.append({**base, "text": red})
            restricted.append({**base, "text": raw})
        call_ids.append(call_id)
        if needs_review:
            flagged.append(call_id)

    def write(kind: str, rows: list[dict]) -> None:
        df = pd.DataFrame(rows)
        for day, part in df.groupby("call_date"):
            folder = out / kind / f"call_date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            part.drop(columns="call_date").to_parquet(folder / "part-0.parquet", index=False)

    write("scorecards", cards)
    write("samples", samples)
    write("transcripts", turns)
    write("restricted", restricted)
    day = first + timedelta(days=days)
    safeguarding = _safeguarding_call(out, recordings, day, n_calls, audio)
    dates.append(day.isoformat())
    call_ids.append(safeguarding)
    flagged.append(safeguarding)
    secrets.append(NAMES[0])
    if audio:
        with_audio.append(safeguarding)

    month = dates[0][:7]
    est = []
    for metric, value in (
        ("avoidable_rate", 0.31),
        ("complaint_rate", 0.12),
        ("transferred_rate", 0.08),
        ("repeat_caller_rate", 0.22),
    ):
        est.append((metric, "all", value))
    for q, (reason, _ask) in QUEUES.items():
        est.append((f"reason:{reason}", "all", 0.1 + 0.05 * len(q) / 4))
        est.append(("avoidable_rate", f"queue:{q}", 0.2 + 0.03 * len(q)))
    for cat, v in (
        ("progress_chasing", 0.14),
        ("repeat_contact", 0.08),
        ("self_serve_available", 0.06),
    ):
        est.append((f"avoidable_category:{cat}", "all", v))
    for chk, v in (
        ("greeting", 0.93),
        ("agent_named", 0.81),
        ("id_check", 0.74),
        ("anything_else_offered", 0.58),
        ("closing", 0.88),
    ):
        est.append((f"qa:{chk}", "all", v))
    estimates = pd.DataFrame(
        [
            {
                "metric": m,
                "group": g,
                "estimate": v,
                "ci_low": max(0.0, v - 0.04),
                "ci_high": min(1.0, v + 0.04),
                "n_sampled": n_calls,
                "population": 12480,
                "method": "stratified, weighted",
            }
            for m, g, v in est
        ]
    )
    (out / "reports" / month).mkdir(parents=True, exist_ok=True)
    estimates.to_parquet(out / "reports" / month / "estimates.parquet", index=False)
    (out / "reports" / month / "report.html").write_text(
        "<html><body><h1>Monthly report</h1><script>window.evil = 1</script></body></html>"
    )
    # The month before, for trends: other figures, one avoidable category without an estimate
    # (a gap), and the callers' sentiment (a mean, only this month has it). No report.html.
    earlier = PREVIOUS_MONTH
    before = estimates[estimates["metric"] != "avoidable_category:self_serve_available"].copy()
    before["estimate"] = (before["estimate"] - 0.05).clip(lower=0.0)
    before["ci_low"] = (before["ci_low"] - 0.07).clip(lower=0.0)
    before["ci_high"] = (before["ci_high"] - 0.03).clip(upper=1.0)
    before["n_sampled"] = n_calls - 4
    sentiment = {
        "metric": "mean:caller_sentiment",
        "group": "all",
        "estimate": 0.21,
        "ci_low": 0.12,
        "ci_high": 0.3,
        "n_sampled": n_calls - 6,
        "population": 12000,
        "method": "taylor mean stratified (samplics)",
    }
    before = pd.concat([before, pd.DataFrame([sentiment])], ignore_index=True)
    (out / "reports" / earlier).mkdir(parents=True, exist_ok=True)
    before.to_parquet(out / "reports" / earlier / "estimates.parquet", index=False)

    # A scrutiny pack as `callqa scrutiny-sample` writes it: pages call-001.html ..., silenced
    # audio named after the page (only for the first three calls), and the pack.parquet manifest.
    pack_calls = call_ids[1:6]
    pack.mkdir(parents=True, exist_ok=True)
    manifest = []
    for n, cid in enumerate(pack_calls, start=1):
        page = f"call-{n:03d}.html"
        (pack / page).write_text(f"<html><body><h1>Call {n}</h1></body></html>")
        audio_name = f"call-{n:03d}.wav" if n <= 3 else None
        if audio_name:
            write_wav(pack / audio_name, seconds=3.0)
        manifest.append({"call_id": cid, "page": page, "audio": audio_name})
    pd.DataFrame(manifest, columns=["call_id", "page", "audio"]).astype(object).to_parquet(
        pack / "pack.parquet", index=False
    )
    (pack / "index.html").write_text("<html><body><h1>Scrutiny sample</h1></body></html>")
    return BuiltOutput(
        out_dir=out,
        recordings_dir=recordings,
        pack_dir=pack,
        packs_dir=packs,
        call_ids=call_ids,
        flagged=flagged,
        pack_calls=pack_calls,
        with_audio=with_audio,
        dates=dates,
        month=month,
        secrets=secrets,
        safeguarding=safeguarding,
    )
