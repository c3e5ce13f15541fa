"""A sample script as the manifest row the nightly run would pass for it (tests only)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pipeline.scorecard import SampledCall
from sample_data.scripted import ScriptedCall


def sampled_call(script: ScriptedCall, *, repeat: bool = False) -> SampledCall:
    """A random-sample call of 31 March 2025, one in four of its stratum (the queue)."""
    return SampledCall(
        call_id=script.call_id,
        call_date=date(2025, 3, 31),
        started_at=datetime(2025, 3, 31, 9, tzinfo=UTC),
        agent_id=script.agent_id,
        team=script.team,
        queue=script.queue,
        duration_s=60.0,
        direction="inbound",
        recording=script.recording,
        channel_layout=script.layout,
        sample_kind="random",
        stratum=script.queue,
        inclusion_prob=0.25,
        weight=4.0,
        repeat_caller=repeat,
        prior_calls_window=int(repeat),
    )
