"""pipeline/sentiment.py with the real VADER lexicon: caller turns only, opening and closing
thirds, the scorecard columns through Parquet, and monthly means whose intervals cover the truth."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pipeline import report, store
from pipeline.audio import AudioMetrics
from pipeline.scorecard import SampledCall, Thresholds, build_scorecard
from pipeline.sentiment import caller_sentiment
from pipeline.tagging import QA_CHECKS, QAChecks, RedactedTurn, Tags, TextTurn, load_qa_weights
from pipeline.transcribe import Transcript, Turn

# VADER itself, straight from the wheel: the oracle for one turn's score.
VADER = SentimentIntensityAnalyzer()

ANGRY = "This is the third time I've rung and nobody has fixed it, I'm furious."
WORRIED = "I'm really worried, the bill is wrong again."
NEUTRAL = "It's about my council tax bill."
THANKFUL = "Thank you so much, that's brilliant, you've been really helpful."
AGENT_CHEER = "Wonderful, I'm delighted to help, have a lovely day!"


def _vader(text: str) -> float:
    return float(VADER.polarity_scores(text)["compound"])


def _turns(spoken: list[tuple[str, str]], seconds: float = 10.0) -> list[Turn]:
    """Turns one after another, each `seconds` long."""
    return [
        Turn(speaker, i * seconds, (i + 1) * seconds, text, 0.9)  # type: ignore[arg-type]
        for i, (speaker, text) in enumerate(spoken)
    ]


def test_vader_needs_no_download_and_no_torch() -> None:
    """The lexicon is read from the installed wheel; nothing heavy or networked is imported."""
    code = (
        "import sys\n"
        "from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as S\n"
        "print(S().polarity_scores('thank you')['compound'] > 0)\n"
        "print(sorted(m for m in ('torch', 'requests', 'nltk') if m in sys.modules))\n"
    )
    # No network is reachable in a sandboxed test run either way; proxies pointed nowhere make
    # any attempt fail loudly rather than wait.
    env = {"PATH": "", "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split("\n")[:2] == ["True", "[]"]


def test_only_caller_turns_are_scored_and_thirds_follow_time() -> None:
    # Nine 10-second turns: turns 0-2 are the opening third, 6-8 the closing third.
    spoken = [
        ("agent", AGENT_CHEER),
        ("caller", ANGRY),
        ("caller", WORRIED),
        ("agent", "Let me look at that for you."),
        ("caller", NEUTRAL),
        ("agent", AGENT_CHEER),
        ("caller", THANKFUL),
        ("agent", AGENT_CHEER),
        ("caller", "   "),  # silence transcribed as blanks: not a neutral turn
    ]
    found = caller_sentiment(_turns(spoken))
    assert [t.turn for t in found.turns] == [1, 2, 4, 6]
    assert [t.compound for t in found.turns] == pytest.approx(
        [_vader(ANGRY), _vader(WORRIED), _vader(NEUTRAL), _vader(THANKFUL)]
    )
    assert found.opening == pytest.approx((_vader(ANGRY) + _vader(WORRIED)) / 2)
    assert found.closing == pytest.approx(_vader(THANKFUL))
    assert found.overall == pytest.approx(
        np.mean([_vader(ANGRY), _vader(WORRIED), _vader(NEUTRAL), _vader(THANKFUL)])
    )
    # The call ends better than it starts, as a person reading it would say.
    assert found.opening < 0 < found.closing


def test_thirds_by_time_not_by_turn_count() -> None:
    """A long angry first turn fills the opening third; the short turns after it do not."""
    turns = [
        Turn("caller", 0.0, 58.0, ANGRY, 0.9),
        Turn("agent", 58.0, 62.0, "Right.", 0.9),
        Turn("caller", 62.0, 64.0, NEUTRAL, 0.9),
        Turn("agent", 64.0, 66.0, "OK.", 0.9),
        Turn("caller", 66.0, 90.0, THANKFUL, 0.9),
    ]
    found = caller_sentiment(turns)
    # Caller midpoints 29 s, 63 s and 78 s of a 90 s call: thirds end at 30 s and start at
    # 60 s. By turn count the neutral turn would be the middle one.
    assert found.opening == pytest.approx(_vader(ANGRY))
    assert found.closing == pytest.approx((_vader(NEUTRAL) + _vader(THANKFUL)) / 2)


def test_turns_without_times_use_turn_order_and_silent_callers_have_none() -> None:
    text_turns = [
        TextTurn("caller", WORRIED),
        TextTurn("agent", AGENT_CHEER),
        TextTurn("caller", THANKFUL),
    ]
    found = caller_sentiment(text_turns)
    assert found.opening == pytest.approx(_vader(WORRIED))
    assert found.closing == pytest.approx(_vader(THANKFUL))
    silent = caller_sentiment([TextTurn("agent", AGENT_CHEER), TextTurn("unknown", ANGRY)])
    assert silent.turns == [] and silent.overall is silent.opening is silent.closing is None
    assert caller_sentiment([]).overall is None


def _call(call_id: str) -> SampledCall:
    return SampledCall(
        call_id=call_id,
        call_date=date(2025, 3, 31),
        started_at=datetime(2025, 3, 31, 9, tzinfo=UTC),
        agent_id="agent_1",
        team="A",
        queue="council_tax",
        duration_s=90.0,
        direction="inbound",
        recording=f"{call_id}.wav",
        channel_layout="agent_left",
        sample_kind="random",
        stratum="council_tax",
        inclusion_prob=0.25,
        weight=4.0,
        repeat_caller=False,
        prior_calls_window=0,
    )


def test_scorecard_columns_survive_parquet(tmp_path: Path) -> None:
    spoken = [
        ("agent", "Good morning, council tax."),
        ("caller", ANGRY),
        ("agent", "Let me look."),
        ("caller", NEUTRAL),
        ("agent", "Done."),
        ("caller", THANKFUL),
    ]
    turns = _turns(spoken)
    transcript = Transcript(
        file="c1.wav",
        duration_s=60.0,
        layout="agent_left",
        confidence=0.9,
        status="ok",
        reason=None,
        turns=turns,
        metrics=AudioMetrics(
            duration_s=60.0,
            talk_ratio_agent=0.5,
            silence_ratio=0.1,
            longest_silence_s=1.0,
            overtalk_s=0.0,
        ),
        low_confidence=False,
        model="tiny.en",
        audio_sha256="0" * 64,
    )
    tags = Tags(
        contact_reasons=["council_tax"],
        primary_reason="council_tax",
        avoidable=False,
        avoidable_category=None,
        complaint=False,
        transferred=False,
        qa=QAChecks(True, True, True, True, True),
        redacted_turns=[RedactedTurn(t.speaker, t.text) for t in turns],
    )
    card = build_scorecard(
        _call("c1"),
        transcript,
        tags,
        qa_weights=load_qa_weights(),
        thresholds=Thresholds(),
        run_id="r",
    )
    store.write_partition(tmp_path, store.SCORECARDS, card.call_date, [card.row()])
    back = store.read_table(tmp_path, store.SCORECARDS).iloc[0]
    assert [dict(t) for t in back["caller_sentiment_turns"]] == [
        {"turn": 1, "compound": pytest.approx(_vader(ANGRY))},
        {"turn": 3, "compound": pytest.approx(_vader(NEUTRAL))},
        {"turn": 5, "compound": pytest.approx(_vader(THANKFUL))},
    ]
    assert back["caller_sentiment_opening"] == pytest.approx(_vader(ANGRY))
    assert back["caller_sentiment_closing"] == pytest.approx(_vader(THANKFUL))
    assert back["caller_sentiment"] == pytest.approx(
        (_vader(ANGRY) + _vader(NEUTRAL) + _vader(THANKFUL)) / 3
    )
    # Numbers only: no words of the call in the sentiment columns.
    assert set(back["caller_sentiment_turns"][0]) == {"turn", "compound"}


# -- monthly means -------------------------------------------------------------------------

MONTH_START = date(2025, 3, 1)
_QUEUE_MEAN = {"council_tax": -0.3, "waste": 0.1, "housing": -0.6}


def _population(rng: np.random.Generator, nights: int, sizes: dict[str, int]) -> pd.DataFrame:
    """A month of calls whose caller sentiment differs by queue; ~10% of callers never speak."""
    rows = []
    for night in range(nights):
        for queue, size in sizes.items():
            for i in range(size):
                value = float(np.clip(rng.normal(_QUEUE_MEAN[queue], 0.4), -1, 1))
                rows.append(
                    {
                        "call_id": f"{night}-{queue}-{i}",
                        "call_date": MONTH_START + timedelta(days=night),
                        "queue": queue,
                        "team": "A",
                        "opening": np.nan if rng.random() < 0.1 else value,
                    }
                )
    return pd.DataFrame(rows)


def _draw(pop: pd.DataFrame, per_stratum: dict[str, int], seed: int) -> pd.DataFrame:
    """A stratified simple random draw per (night, queue), with its weights."""
    keys = ["call_date", "queue"]
    order = pop.assign(_key=np.random.default_rng(seed).random(len(pop)))
    rank = order.groupby(keys)["_key"].rank(method="first")
    picked = order[rank <= order["queue"].map(per_stratum)].drop(columns="_key").copy()
    sizes = pop.groupby(keys)["call_id"].transform("count")[picked.index]
    n = picked["queue"].map(per_stratum)
    picked["stratum"] = picked["queue"]
    picked["stratum_population"] = sizes
    picked["inclusion_prob"] = n / sizes
    picked["weight"] = sizes / n
    return picked.reset_index(drop=True)


def _scorecards(sample: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({c: [None] * len(sample) for c in store.SCORECARDS.columns})
    for column in ("call_id", "call_date", "queue", "team", "stratum", "weight"):
        frame[column] = sample[column].to_numpy()
    frame["sample_kind"] = "random"
    frame["transcript_status"] = "ok"
    frame["primary_reason"] = "council_tax"
    for column in ("avoidable", "complaint", "transferred", *QA_CHECKS):
        frame[column] = False
    frame["caller_sentiment_opening"] = sample["opening"].to_numpy()
    return frame


def _samples(sample: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({c: [None] * len(sample) for c in store.SAMPLES.columns})
    for column in ("call_id", "call_date", "stratum", "stratum_population", "weight"):
        frame[column] = sample[column].to_numpy()
    frame["sample_kind"] = "random"
    return frame


def test_mean_intervals_cover_the_true_mean_about_95_percent() -> None:
    rng = np.random.default_rng(11)
    pop = _population(rng, nights=8, sizes={"council_tax": 60, "waste": 30, "housing": 12})
    truth = pop["opening"].mean()  # over the callers who spoke, as the estimate is
    hits = 0
    draws = 200
    for seed in range(draws):
        sample = _draw(pop, {"council_tax": 4, "waste": 3, "housing": 2}, seed)
        design = report.sample_design(_scorecards(sample), _samples(sample))
        values = design["caller_sentiment_opening"].to_numpy(float)
        point, low, high, n, _ = report.weighted_mean(
            values, design["design_weight"].to_numpy(), design["variance_stratum"].to_numpy()
        )
        known = ~np.isnan(values)
        weights = design["design_weight"].to_numpy()[known]
        assert point == pytest.approx((weights * values[known]).sum() / weights.sum())
        assert n == known.sum() and low < point < high
        hits += low <= truth <= high
    assert 0.91 <= hits / draws <= 0.99


def test_mean_of_zero_and_of_one_call() -> None:
    """A month of neutral callers is a mean of 0 with no spread; one call has no interval."""
    zero = report.weighted_mean(np.zeros(6), np.full(6, 2.0), np.repeat(["a", "b"], 3))
    assert zero[:3] == (0.0, 0.0, 0.0)
    one = report.weighted_mean(np.array([0.4, np.nan]), np.array([3.0, 3.0]), np.array(["a", "a"]))
    assert one[0] == pytest.approx(0.4) and np.isnan(one[1]) and one[3] == 1


def test_report_has_sentiment_means_in_parquet_and_html(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    pop = _population(rng, nights=3, sizes={"council_tax": 20, "waste": 10, "housing": 6})
    sample = _draw(pop, {"council_tax": 4, "waste": 3, "housing": 2}, seed=2)
    cards = _scorecards(sample)
    manifest = _samples(sample)
    for night, rows in cards.groupby("call_date"):
        store.write_partition(tmp_path, store.SCORECARDS, night, rows)
        store.write_partition(
            tmp_path, store.SAMPLES, night, manifest[manifest["call_date"] == night]
        )
    built = report.build_monthly_report(tmp_path, "2025-03")
    estimates = pd.read_parquet(built.estimates_path).set_index(["metric", "group"])
    row = estimates.loc[("mean:caller_sentiment_opening", "all")]
    known = sample["opening"].notna()
    expected = np.average(sample.loc[known, "opening"], weights=sample.loc[known, "weight"])
    assert row["estimate"] == pytest.approx(expected)
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert row["n_sampled"] == known.sum() and "samplics" in row["method"]
    # Scorecards without a column's values (older nights) give no row, rather than a NaN one.
    assert ("mean:caller_sentiment_closing", "all") not in estimates.index
    page = built.html_path.read_text()
    assert "How callers sounded" in page and "Opening third of the call" in page
    assert f"{row['estimate']:+.2f}" in page
