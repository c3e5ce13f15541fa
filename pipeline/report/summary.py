"""What one night did, in counts and ids only: the Prefect artifact and the closing line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

__all__ = ["NightSummary"]


@dataclass(frozen=True)
class NightSummary:
    """What one night did, in numbers and ids only (it goes into Prefect's artifact)."""

    call_date: date
    run_id: str
    log_rows: int
    rejected_rows: int
    population: int
    sampled: int
    random: int
    targeted: int
    scored: int
    failed: int
    flagged: int
    avoidable_rate: float | None
    top_reasons: tuple[tuple[str, int], ...]
    failures_by_stage: tuple[tuple[str, int], ...]
    audio_s: float
    elapsed_s: float
    out: Path
    #: Scored calls whose recording is faulty (cut short, dead channel, clipped): for IT.
    recording_faults: int = 0
    #: Scored calls tagged safeguarding: a count only, the calls are in the review queue.
    safeguarding: int = 0

    @classmethod
    def from_rows(
        cls,
        *,
        call_date: date,
        run_id: str,
        log_rows: int,
        rejected_rows: int,
        population: int,
        scorecards: Sequence[Mapping[str, object]],
        failures: Sequence[Mapping[str, object]],
        sampled: int,
        targeted: int,
        elapsed_s: float,
        out: Path,
    ) -> NightSummary:
        """Summarise the night's scorecard and failure rows."""
        random = [r for r in scorecards if r["sample_kind"] == "random"]
        weights = [float(r["weight"] or 0.0) for r in random]  # type: ignore[arg-type]
        avoidable = (
            sum(w for w, r in zip(weights, random, strict=True) if r["avoidable"]) / sum(weights)
            if random and sum(weights) > 0
            else None
        )
        reasons = Counter(str(r["primary_reason"]) for r in scorecards)
        stages = Counter(str(f["stage"]) for f in failures)
        return cls(
            call_date=call_date,
            run_id=run_id,
            log_rows=log_rows,
            rejected_rows=rejected_rows,
            population=population,
            sampled=sampled,
            random=sampled - targeted,
            targeted=targeted,
            scored=len(scorecards),
            failed=len(failures),
            flagged=sum(bool(r["needs_review"]) for r in scorecards),
            avoidable_rate=avoidable,
            top_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]),
            failures_by_stage=tuple(sorted(stages.items())),
            audio_s=sum(float(r["duration_s"] or 0.0) for r in scorecards),  # type: ignore[arg-type]
            elapsed_s=elapsed_s,
            out=out,
            recording_faults=sum(r["transcript_status"] == "recording_fault" for r in scorecards),
            safeguarding=sum(bool(r.get("safeguarding")) for r in scorecards),
        )

    def line(self) -> str:
        """The closing line printed on the terminal."""
        rate = "n/a" if self.avoidable_rate is None else f"{self.avoidable_rate:.0%}"
        # Said only when there are some: a recording fault is news for IT.
        faults = f"{self.recording_faults} recording faults, " if self.recording_faults else ""
        # Likewise: a safeguarding call is news for the council's safeguarding lead.
        guard = f"{self.safeguarding} safeguarding, " if self.safeguarding else ""
        return (
            f"Night {self.call_date}: {self.sampled} sampled, {self.scored} scored, "
            f"{self.failed} failed, {faults}{guard}{self.flagged} flagged for review, "
            f"avoidable {rate} "
            f"({self.audio_s / 60:.1f} min of audio in {self.elapsed_s:.0f} s). "
            f"Scorecards: {self.out / 'scorecards' / f'call_date={self.call_date}'}"
        )

    def markdown(self) -> str:
        """The `nightly-screening-summary` artifact: counts, reasons and rates, no personal data."""
        rate = "n/a" if self.avoidable_rate is None else f"{self.avoidable_rate:.1%}"
        reasons = "".join(f"| {r} | {n} |\n" for r, n in self.top_reasons) or "| (none) | 0 |\n"
        stages = "".join(f"| {s} | {n} |\n" for s, n in self.failures_by_stage)
        text = (
            f"# Nightly screening {self.call_date}\n\n"
            f"| | calls |\n|---|---|\n"
            f"| in the call log (rows read / rejected) | {self.log_rows} / {self.rejected_rows} |\n"
            f"| eligible recorded calls | {self.population} |\n"
            f"| sampled (random + targeted) | {self.sampled} ({self.random} + {self.targeted}) |\n"
            f"| scored | {self.scored} |\n| failed | {self.failed} |\n"
            f"| recording faults (for IT) | {self.recording_faults} |\n"
            f"| safeguarding (see the review queue) | {self.safeguarding} |\n"
            f"| flagged for review | {self.flagged} |\n\n"
            f"**Avoidable contact (weighted, random sample):** {rate}\n\n"
            f"## Top contact reasons\n\n| reason | calls |\n|---|---|\n{reasons}"
        )
        if stages:
            text += f"\n## Failures by stage\n\n| stage | calls |\n|---|---|\n{stages}"
        return text + f"\nRun `{self.run_id}`; audio {self.audio_s / 60:.1f} min.\n"
