"""The 31-day synthetic call log whose recorded rows on the demo night are the scripted calls."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from pipeline.calls import CALL_LOG_COLUMNS
from sample_data.scripted import (
    DEMO_DATE,
    LOG_END,
    LOG_START,
    UNSAFE_RECORDINGS,
    ScriptedCall,
    seeded_rng,
)

_TZ = ZoneInfo("Europe/London")

_TEAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # team: (agents, queues it answers)
    "revenues": (
        ("agent_sarah_k", "agent_tom_b", "agent_priya_s", "agent_dave_m"),
        ("council_tax", "benefits"),
    ),
    "environment": (
        ("agent_gemma_l", "agent_kwame_o", "agent_lucy_h"),
        ("waste_recycling", "parking", "highways", "environmental_health"),
    ),
    "housing": (
        ("agent_raj_p", "agent_ellen_w", "agent_mark_t"),
        ("housing_repairs", "housing_options"),
    ),
    "people": (
        ("agent_fiona_c", "agent_sam_d"),
        ("adult_social_care", "children_services", "school_admissions"),
    ),
    "customer_services": (
        ("agent_chris_l", "agent_anna_r", "agent_joe_f"),
        ("libraries", "registrars", "planning", "online_account", "other"),
    ),
}
_QUEUE_WEIGHTS = {
    "council_tax": 22.0,
    "waste_recycling": 16.0,
    "benefits": 14.0,
    "housing_repairs": 10.0,
    "parking": 7.0,
    "housing_options": 6.0,
    "adult_social_care": 4.0,
    "highways": 4.0,
    "environmental_health": 3.0,
    "school_admissions": 3.0,
    "planning": 2.5,
    "online_account": 2.5,
    "children_services": 2.0,
    "registrars": 2.0,
    "other": 2.0,
    "libraries": 1.5,
}
# Answered calls per day (Mon..Sun): Mondays busiest, Saturday mornings light, Sundays closed.
_DAY_VOLUME = (265, 240, 225, 220, 200, 55, 0)
# Weekday arrivals per half hour from 08:30 to 17:30: a morning peak, a lunchtime dip.
_WEEKDAY_SLOTS = (4, 9, 11, 11, 10, 9, 8, 6, 6, 7, 7, 6, 6, 5, 5, 4, 3, 2)
_SATURDAY_SLOTS = (5, 8, 8, 7, 6, 5, 4, 3)  # 09:00 to 13:00
# Ofcom's numbers reserved for drama: (national area code, first digits of the local part).
_DRAMA_RANGES = (
    ("07700", "900", 0.30),
    ("020", "7946 0", 0.20),
    ("0113", "496 0", 0.05),
    ("0114", "496 0", 0.05),
    ("0115", "496 0", 0.05),
    ("0116", "496 0", 0.05),
    ("0117", "496 0", 0.05),
    ("0118", "496 0", 0.05),
    ("0121", "496 0", 0.05),
    ("0131", "496 0", 0.05),
    ("0141", "496 0", 0.05),
    ("0151", "496 0", 0.05),
)
_FORMAT_WEIGHTS = (0.40, 0.12, 0.15, 0.12, 0.08, 0.06, 0.07)


@dataclass(frozen=True)
class _Number:
    area: str  # national form, leading 0: "07700", "020"
    local: str  # as grouped when written: "900123", "7946 0123"

    @property
    def digits(self) -> str:
        return self.area + self.local.replace(" ", "")

    def written(self, style: int) -> str:
        """The number in one of the ways UK call systems and people write it."""
        trunk = self.area[1:]
        return (
            f"{self.area} {self.local}",
            f"({self.area}) {self.local}",
            self.digits,
            f"+44 {trunk} {self.local}",
            f"+44{self.digits[1:]}",
            f"0044 {trunk} {self.local}",
            f"+44 (0){trunk} {self.local}",
        )[style]


def _parse_drama(number: str) -> _Number | None:
    """The drama number behind a script's caller_number, in any of `_Number.written`'s forms."""
    digits = "".join(c for c in number if c.isdigit())
    if digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("440"):
        digits = digits[2:]
    elif digits.startswith("44"):
        digits = "0" + digits[2:]
    for area, prefix, _ in _DRAMA_RANGES:
        flat = area + prefix.replace(" ", "")
        if digits.startswith(flat) and len(digits) == 11:
            local = digits[len(area) :]
            grouped = prefix + local[len(prefix.replace(" ", "")) :] if " " in prefix else local
            return _Number(area, grouped)
    return None


def _random_number(rng: np.random.Generator, reserved: set[str]) -> _Number:
    weights = np.array([w for _, _, w in _DRAMA_RANGES])
    while True:
        area, prefix, _ = _DRAMA_RANGES[int(rng.choice(len(weights), p=weights / weights.sum()))]
        tail = f"{int(rng.integers(1000)):03d}"
        number = _Number(area, prefix + tail)
        if number.digits not in reserved:
            return number


def _style(rng: np.random.Generator) -> int:
    weights = np.array(_FORMAT_WEIGHTS)
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def _exists_locally(moment: datetime) -> bool:
    """False for wall-clock times skipped when the clocks go forward."""
    there_and_back = moment.replace(tzinfo=_TZ).astimezone(ZoneInfo("UTC")).astimezone(_TZ)
    return there_and_back.replace(tzinfo=None) == moment


def _team_of(queue: str) -> str:
    return next(team for team, (_, queues) in _TEAMS.items() if queue in queues)


def _days() -> Iterator[date]:
    day = LOG_START
    while day <= LOG_END:
        yield day
        day += timedelta(days=1)


def _slot_time(day: date, rng: np.random.Generator) -> datetime:
    saturday = day.weekday() == 5
    slots = np.array(_SATURDAY_SLOTS if saturday else _WEEKDAY_SLOTS, dtype=float)
    opening = datetime.combine(day, time(9, 0) if saturday else time(8, 30))
    slot = int(rng.choice(slots.size, p=slots / slots.sum()))
    return opening + timedelta(minutes=30 * slot, seconds=int(rng.integers(1800)))


def _out_of_hours(day: date, rng: np.random.Generator) -> datetime:
    """A time on the emergency repairs line, when the contact centre is shut."""
    while True:
        if day.weekday() == 6:
            moment = datetime.combine(day, time(0)) + timedelta(seconds=int(rng.integers(86400)))
        elif rng.random() < 0.5:
            moment = datetime.combine(day, time(17, 45)) + timedelta(
                seconds=int(rng.integers(6 * 3600 + 14 * 60))
            )
        else:
            moment = datetime.combine(day, time(0)) + timedelta(seconds=int(rng.integers(8 * 3600)))
        if _exists_locally(moment):
            return moment


def _row(
    started: datetime,
    queue: str,
    number: str,
    rng: np.random.Generator,
    *,
    direction: str = "inbound",
    agent: str | None = None,
    team: str | None = None,
) -> dict[str, object]:
    team = team if team is not None else _team_of(queue)
    agents = _TEAMS[team][0]
    median = 150.0 if direction == "outbound" else 260.0
    return {
        "started_at": started,
        "duration_s": round(float(np.clip(rng.lognormal(math.log(median), 0.6), 15, 3600)), 1),
        "agent_id": agent or agents[int(rng.integers(len(agents)))],
        "team": team,
        "queue": queue,
        "caller_number": number,
        "direction": direction,
        "recording": "",
        "channel_layout": "",
    }


def _planted_priors(
    call: ScriptedCall, number: _Number, rng: np.random.Generator, pattern: int
) -> list[dict[str, object]]:
    """1-3 earlier inbound calls from a repeat caller, 1-6 days before, in other formats."""
    styles = [s for s in range(7) if number.written(s) != call.caller_number]
    times: list[datetime] = []
    if pattern == 0:  # just before midnight the night before, on the emergency line
        evening = datetime.combine(call.started_at.date() - timedelta(days=1), time(23, 40))
        times.append(evening + timedelta(seconds=int(rng.integers(19 * 60))))
    elif pattern == 1:  # Friday or Saturday morning: across the 30 March clock change
        times.append(_slot_time(date(2025, 3, 28 + int(rng.integers(2))), rng))
    for _ in range(int(rng.integers(1, 4)) - len(times)):
        day = call.started_at.date() - timedelta(days=int(rng.integers(1, 7)))
        while day.weekday() == 6:
            day -= timedelta(days=1)
        times.append(_slot_time(day, rng))
    rows = []
    for moment in sorted(times):
        # The window is measured back from the call; keep every prior inside it by a margin.
        if not timedelta(hours=1) < call.started_at - moment < timedelta(days=6, hours=12):
            continue
        style = styles[int(rng.integers(len(styles)))]
        ooh = moment.hour >= 18 or moment.date().weekday() == 6
        queue = "housing_repairs" if ooh else call.queue
        rows.append(_row(moment, queue, number.written(style), rng))
    return rows


def _unrepeated_traps(
    call: ScriptedCall, number: _Number, rng: np.random.Generator, pattern: int
) -> list[dict[str, object]]:
    """Calls that must NOT make a non-repeat caller a repeat: too old, or outbound."""
    if pattern == 0:  # rang nine days ago: outside a 7-day window
        day = call.started_at.date() - timedelta(days=9)
        while day.weekday() == 6:
            day -= timedelta(days=1)
        return [_row(_slot_time(day, rng), call.queue, number.written(2), rng)]
    if pattern == 1:  # the council rang them three days ago: outbound calls are not repeats
        when = _slot_time(call.started_at.date() - timedelta(days=3), rng)
        return [_row(when, call.queue, number.written(3), rng, direction="outbound")]
    return []


def build_call_log(
    calls: Sequence[ScriptedCall], durations: Mapping[str, float], *, seed: int = 0
) -> pd.DataFrame:
    """The 31-day call log: background traffic plus the scripted calls as the demo night's recordings.

    Args:
        calls: the scripts; each becomes a recorded row on its own ``started_at``.
        durations: rendered length in seconds by script name (missing: the script's own).
        seed: seeds every draw; the same seed gives the same rows.

    Returns:
        A DataFrame with exactly ``CALL_LOG_COLUMNS``, sorted by start time, naive local times
        written as ISO 8601 strings.
    """
    rng = seeded_rng(seed, "call-log")
    scripted_numbers = {
        call.name: parsed for call in calls if (parsed := _parse_drama(call.caller_number))
    }
    reserved = {n.digits for n in scripted_numbers.values()}
    rows: list[dict[str, object]] = []
    queues = list(_QUEUE_WEIGHTS)
    queue_p = np.array(list(_QUEUE_WEIGHTS.values()))
    queue_p /= queue_p.sum()

    def caller(direction: str) -> str:
        draw = rng.random()
        if direction == "inbound" and draw < 0.05:
            return "withheld" if draw < 0.035 else ""
        return _random_number(rng, reserved).written(_style(rng))

    for day in _days():
        volume = _DAY_VOLUME[day.weekday()]
        volume = int(rng.poisson(volume)) if volume else 0
        for _ in range(volume):
            queue = queues[int(rng.choice(len(queues), p=queue_p))]
            direction = "outbound" if rng.random() < 0.06 else "inbound"
            rows.append(
                _row(_slot_time(day, rng), queue, caller(direction), rng, direction=direction)
            )
        for _ in range(int(rng.integers(1, 4))):
            rows.append(_row(_out_of_hours(day, rng), "housing_repairs", caller("inbound"), rng))
    # Frequent callers: the same person ringing about the same thing 5-15 times in the month.
    for _ in range(20):
        number = _random_number(rng, reserved)
        reserved.add(number.digits)
        queue = queues[int(rng.choice(len(queues), p=queue_p))]
        for _ in range(int(rng.integers(5, 16))):
            day = LOG_START + timedelta(days=int(rng.integers(31)))
            while day.weekday() == 6:
                day -= timedelta(days=1) if day > LOG_START else -timedelta(days=1)
            rows.append(_row(_slot_time(day, rng), queue, number.written(_style(rng)), rng))
    # The scripted calls, their planted history, and rows with recordings that must be refused.
    rows.extend(_scripted_rows(calls, durations, scripted_numbers, rng))
    for path in UNSAFE_RECORDINGS:
        queue = queues[int(rng.choice(len(queues), p=queue_p))]
        row = _row(_slot_time(DEMO_DATE, rng), queue, caller("inbound"), rng)
        row.update(recording=path, channel_layout="agent_left")
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values("started_at", kind="stable").reset_index(drop=True)
    frame["call_id"] = _call_ids(frame, {c.call_id for c in calls})
    frame["started_at"] = frame["started_at"].map(lambda t: t.isoformat(timespec="seconds"))
    return frame[list(CALL_LOG_COLUMNS)]


def _scripted_rows(
    calls: Sequence[ScriptedCall],
    durations: Mapping[str, float],
    scripted_numbers: Mapping[str, _Number],
    rng: np.random.Generator,
) -> list[dict[str, object]]:
    """Each scripted call's recorded row, then its planted earlier calls (or near misses)."""
    rows: list[dict[str, object]] = []
    repeat_pattern = non_repeat_pattern = 0
    for call in calls:
        record = _row(
            call.started_at,
            call.queue,
            call.caller_number,
            rng,
            agent=call.agent_id,
            team=call.team,
        )
        record.update(
            call_id=call.call_id,
            duration_s=round(float(durations.get(call.name, call.duration_s or 0.0)), 1),
            recording=call.recording,
            channel_layout=call.layout,
        )
        rows.append(record)
        number = scripted_numbers.get(call.name)
        if number is None or call.labels is None:
            continue
        if call.labels.repeat_caller:
            rows.extend(_planted_priors(call, number, rng, repeat_pattern % 4))
            repeat_pattern += 1
        else:
            rows.extend(_unrepeated_traps(call, number, rng, non_repeat_pattern % 6))
            non_repeat_pattern += 1
    return rows


def _call_ids(frame: pd.DataFrame, taken: set[str]) -> list[str]:
    """Keep the scripts' ids; number every other call per day in time order, skipping those."""
    ids: list[str] = []
    counters: dict[date, int] = {}
    for given, started in zip(frame["call_id"], frame["started_at"], strict=True):
        if isinstance(given, str):
            ids.append(given)
            continue
        day = started.date()
        while True:
            counters[day] = counters.get(day, 0) + 1
            candidate = f"HRW-{day:%Y%m%d}-{counters[day]:04d}"
            if candidate not in taken:
                break
        ids.append(candidate)
    return ids
