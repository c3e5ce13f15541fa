"""A council's own tags, added by editing the YAML alone (pipeline/vocabulary.py).

A copy of models/ gains a contact reason (`allotments`), a QA check (`recording_notice`) and a
flag family (`accessibility`: `bsl_interpreter`); scripted calls that say them go through the
real tagger (rules and the learned model, which knows none of the new ids), the scorecard
writer, the monthly report, DuckDB and the review app, and each new id comes out labelled.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from pipeline import store
from pipeline.audio import AudioMetrics
from pipeline.errors import RulePackError
from pipeline.report import ScrutinyCall, build_monthly_report, write_scrutiny_page
from pipeline.scorecard import SampledCall, Thresholds, build_scorecard, transcript_rows
from pipeline.tagging import (
    QA_CHECKS,
    Tags,
    TextTurn,
    load_pipeline,
    load_qa_weights,
    tag_file,
    tag_many,
)
from pipeline.transcribe import Transcript, Turn
from pipeline.vocabulary import DEFAULT_MODELS_DIR, load_vocabulary

DAY = date(2025, 3, 4)
MONTH = "2025-03"
PASSWORD = "correct horse battery staple"

NEW_REASON = {"id": "allotments", "label": "Allotments", "patterns": ["allotment"]}
NEW_CHECK = {
    "id": "recording_notice",
    "label": "Said the call is recorded",
    "weight": 10,
    "position": "start",
    "window": 2,
    "patterns": ["call|calls is|are recorded"],
}
NEW_FAMILY = {
    "id": "accessibility",
    "label": "Accessibility",
    "tags": [
        {
            "id": "bsl_interpreter",
            "label": "Needs a BSL interpreter",
            "patterns": ["bsl|sign language interpreter", "british sign language"],
        }
    ],
}

# Says the new reason, the new check and the new flag.
ALLOTMENT_CALL = [
    TextTurn(
        "agent", "Good morning, parks and leisure, calls are recorded, you're through to Sam."
    ),
    TextTurn("caller", "Hi, it's about my allotment, the water tap on the plot has been cut off."),
    TextTurn("agent", "I can look at that for you."),  # no identity check: the call is flagged
    TextTurn(
        "caller", "Yes, and I'm deaf, I'll need a British Sign Language interpreter for visits."
    ),
    TextTurn("agent", "I've noted that. Is there anything else I can help with? Goodbye."),
]
# Says none of them.
BIN_CALL = [
    TextTurn("agent", "Good afternoon, you're through to the council, my name is Jo."),
    TextTurn("caller", "My green bin wasn't collected on Tuesday."),
    TextTurn("agent", "Sorry about that, I'll book a collection. Anything else? Thanks, bye."),
]


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _council_models(folder: Path) -> Path:
    """models/ copied, with one new reason, check and flag family: YAML edits only."""
    shutil.copytree(DEFAULT_MODELS_DIR, folder)
    _edit(folder / "taxonomy.yaml", lambda d: d["reasons"].insert(-1, NEW_REASON))
    _edit(folder / "qa_checks.yaml", lambda d: d["checks"].append(NEW_CHECK))
    _edit(folder / "flags.yaml", lambda d: d.update(families=[NEW_FAMILY]))
    return folder


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _council_models(tmp_path_factory.mktemp("council") / "models")


@pytest.fixture(scope="module")
def council_nlp(council: Path) -> Any:
    return load_pipeline(council)


@pytest.fixture(scope="module")
def tagged(council_nlp: Any) -> list[Tags]:
    return tag_many([ALLOTMENT_CALL, BIN_CALL] * 3, council_nlp)


def _transcript(turns: list[TextTurn]) -> Transcript:
    spoken = [Turn(t.speaker, 2.0 * i, 2.0 * i + 2, t.text, 0.9) for i, t in enumerate(turns)]  # type: ignore[arg-type]
    return Transcript(
        file="",
        duration_s=2.0 * len(turns),
        layout="agent_left",
        confidence=0.9,
        status="ok",
        reason=None,
        turns=spoken,
        metrics=AudioMetrics(
            duration_s=2.0 * len(turns),
            talk_ratio_agent=0.5,
            silence_ratio=0.1,
            longest_silence_s=0.5,
            overtalk_s=0.0,
        ),
        low_confidence=False,
        model="tiny.en",
        audio_sha256="0" * 64,
    )


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, council: Path, tagged: list[Tags]) -> Path:
    """One night's scorecards and the month's report, written by the pipeline's own writers."""
    folder = tmp_path_factory.mktemp("out")
    cards, turns = [], []
    for i, tags in enumerate(tagged):
        call_id = f"C{i}"
        script = ALLOTMENT_CALL if i % 2 == 0 else BIN_CALL
        call = SampledCall(
            call_id=call_id,
            call_date=DAY,
            started_at=None,
            agent_id="A1",
            team="Blue",
            queue="parks" if i % 2 == 0 else "waste",
            duration_s=60.0,
            direction="inbound",
            recording=None,
            channel_layout="agent_left",
            sample_kind="random",
            stratum="all",
            inclusion_prob=0.1,
            weight=10.0,
            repeat_caller=False,
            prior_calls_window=0,
        )
        transcript = _transcript(script)
        card = build_scorecard(
            call,
            transcript,
            tags,
            qa_weights=load_qa_weights(council),
            thresholds=Thresholds(),
            run_id="run-1",
        )
        cards.append(card.row())
        turns += transcript_rows(call_id, transcript, tags)
    store.write_partition(folder, store.SCORECARDS, DAY, cards)
    store.write_partition(folder, store.TRANSCRIPTS, DAY, turns)
    build_monthly_report(folder, MONTH, models_dir=council)
    return folder


# -- tagging ----------------------------------------------------------------------------------


def test_callqa_tag_gives_the_new_reason_check_and_flag(council_nlp: Any, tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    calls.write_text(
        "\n".join(
            json.dumps({"id": name, "turns": [t.__dict__ for t in turns]})
            for name, turns in (("allotment", ALLOTMENT_CALL), ("bin", BIN_CALL))
        ),
        encoding="utf-8",
    )
    allotment, bin_call = tag_file(calls, council_nlp)
    assert allotment["primary_reason"] == "allotments"
    assert allotment["qa"]["recording_notice"] is True
    assert list(allotment["qa"])[:5] == list(QA_CHECKS)  # docs/design.md's checks first
    assert allotment["tags"] == {"accessibility": ["bsl_interpreter"]}
    evidence = {e["tag"] for e in allotment["evidence"]}
    assert {"contact_reasons:allotments", "qa:recording_notice"} <= evidence
    assert "tags:accessibility:bsl_interpreter" in evidence
    assert "allotments" not in bin_call["contact_reasons"]
    assert bin_call["qa"]["recording_notice"] is False
    assert bin_call["tags"] == {"accessibility": []}


def test_the_learned_model_leaves_ids_it_never_saw_to_the_rules(
    council_nlp: Any, tagged: list[Tags]
) -> None:
    model, _ = council_nlp.get_pipe("callqa_normalise").learned
    new = {"contact_reasons:allotments", "primary_reason:allotments", "qa:recording_notice"}
    assert not new & set(model.targets)
    allotment, bin_call = tagged[0], tagged[1]
    assert allotment.tagger_version == model.version  # the model did decide this call
    assert "allotments" in allotment.contact_reasons and allotment.qa.passed("recording_notice")
    assert allotment.tags == {"accessibility": ["bsl_interpreter"]}
    assert not bin_call.qa.passed("recording_notice") and bin_call.tags == {"accessibility": []}
    assert set(allotment.probabilities) <= set(model.targets)


def test_without_flags_yaml_there_are_no_families(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, folder)
    (folder / "flags.yaml").unlink()
    assert load_vocabulary(folder).families == ()
    assert load_vocabulary(folder).reason_ids == load_vocabulary().reason_ids


# -- scorecards, SQL, report --------------------------------------------------------------------


def test_scorecards_keep_one_schema_and_hold_the_new_ids(out: Path, council: Path) -> None:
    cards = store.read_table(out, store.SCORECARDS)
    written = pd.read_parquet(next((out / "scorecards").rglob("*.parquet")))
    # Nothing new in the schema: docs/design.md's per-check columns stay, new ids live in the maps.
    assert list(written.columns) == [c for c in store.SCORECARDS.columns if c != "call_date"]
    assert "recording_notice" not in cards.columns and "accessibility" not in cards.columns
    first = cards[cards["call_id"] == "C0"].iloc[0]
    assert dict(first["qa_checks"]) == {
        **{c: bool(first[c]) for c in QA_CHECKS},
        "recording_notice": True,
    }
    assert {k: list(v) for k, v in dict(first["tags"]).items()} == {
        "accessibility": ["bsl_interpreter"]
    }
    assert first["primary_reason"] == "allotments"
    # The new check counts in the QA score with its YAML weight.
    weights = load_qa_weights(council)
    passed = sum(w for check, w in weights.items() if dict(first["qa_checks"])[check])
    assert first["qa_score"] == pytest.approx(round(100 * passed / sum(weights.values()), 1))
    second = cards[cards["call_id"] == "C1"].iloc[0]
    assert "qa:recording_notice" in list(second["flags"])


def test_duckdb_finds_calls_by_a_council_flag(out: Path) -> None:
    found = store.query_output(
        out,
        "select call_id from scorecards "
        "where list_contains(tags['accessibility'], 'bsl_interpreter') order by call_id",
    )
    assert found["call_id"].tolist() == ["C0", "C2", "C4"]
    passed = store.query_output(
        out, "select count(*) as n from scorecards where qa_checks['recording_notice']"
    )
    assert passed["n"].iloc[0] == 3
    reasons = store.query_output(
        out,
        "select count(*) as n from scorecards where list_contains(contact_reasons, 'allotments')",
    )
    assert reasons["n"].iloc[0] == 3


def test_the_monthly_report_estimates_and_names_the_new_ids(out: Path) -> None:
    folder = out / "reports" / MONTH
    estimates = pd.read_parquet(folder / "estimates.parquet")
    overall = estimates[estimates["group"] == "all"].set_index("metric")["estimate"]
    assert overall["reason:allotments"] == pytest.approx(0.5)
    assert overall["qa:recording_notice"] == pytest.approx(0.5)
    assert overall["tags:accessibility:bsl_interpreter"] == pytest.approx(0.5)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Allotments" in page
    assert "Said the call is recorded" in page
    assert "Accessibility: Needs a BSL interpreter" in page


def test_a_scrutiny_page_names_the_new_ids(out: Path, council: Path, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    call = ScrutinyCall("C0", DAY, "Call 1", "call-001.html", "Agent 1", None, "agent_left")
    write_scrutiny_page(out, tmp_path / "recordings", pack, call, models_dir=council)
    page = (pack / "call-001.html").read_text(encoding="utf-8")
    assert "Main reason: Allotments" in page
    assert "Said the call is recorded: Yes" in page
    assert "Accessibility: Needs a BSL interpreter" in page


# -- review app ---------------------------------------------------------------------------------


@pytest.fixture
def lead(
    out: Path, council: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    from review.app import create_app
    from review.db import User
    from review.security import hash_password

    monkeypatch.setenv("CALLQA_MODELS_DIR", str(council))
    app = create_app(
        out,
        f"sqlite:///{tmp_path / 'review.sqlite'}",
        None,
        state_dir=tmp_path / "state",
        packs_dir=tmp_path / "packs",
    )
    with app.state.sessionmaker() as db:
        db.add(
            User(
                name="lena", role="quality_lead", password_hash=hash_password(PASSWORD), active=True
            )
        )
        db.commit()
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    signed_in = client.post(
        "/login", data={"csrf_token": token.group(1), "name": "lena", "password": PASSWORD}
    )
    assert signed_in.status_code == 303, signed_in.text
    yield client


def test_the_review_app_shows_the_new_ids_with_their_labels(lead: TestClient) -> None:
    queue = lead.get("/queue").text
    assert '<option value="allotments">Allotments</option>' in queue
    assert (
        '<option value="accessibility:bsl_interpreter">Accessibility: Needs a BSL interpreter'
        in queue
    )
    assert "Not done: said the call is recorded" in queue
    filtered = lead.get("/queue", params={"tag": "accessibility:bsl_interpreter"}).text
    listed = set(re.findall(r"/calls/(C\d)", filtered))
    assert listed and listed <= {"C0", "C2", "C4"}

    call = lead.get("/calls/C0").text
    assert "Allotments" in call
    assert "Accessibility: Needs a BSL interpreter" in call
    assert "Said the call is recorded" in call

    dashboard = lead.get("/dashboard", params={"month": MONTH}).text
    assert "Allotments" in dashboard and "Accessibility: Needs a BSL interpreter" in dashboard


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "taxonomy.yaml",
            lambda d: d["reasons"].append({"id": "parking", "label": "Parking again"}),
            "id 'parking' appears twice in `reasons`",
        ),
        (
            "qa_checks.yaml",
            lambda d: d["flags"].append({"id": "rude", "label": "Rude"}),
            "unknown id 'rude' in `flags`",
        ),
        (
            "avoidable.yaml",
            lambda d: d["categories"].append({"id": "no_label", "definition": "x"}),
            "categories[6] (no_label): `label`: Field required",
        ),
        (
            "qa_checks.yaml",
            lambda d: d["checks"][0].update(weight=-1),
            "checks[0] (greeting): `weight`",
        ),
        (
            "taxonomy.yaml",
            lambda d: d.update(reasons=[r for r in d["reasons"] if r["id"] != "parking"]),
            "`reasons` is missing parking",
        ),
        (
            "flags.yaml",
            lambda d: d.update(
                families=[NEW_FAMILY, {**NEW_FAMILY, "label": "Accessibility again"}]
            ),
            "id 'accessibility' appears twice in `families`",
        ),
    ],
)
def test_a_bad_vocabulary_names_the_file_and_entry(
    tmp_path: Path, file: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    folder = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, folder)
    _edit(folder / file, change)
    with pytest.raises(RulePackError) as raised:
        load_vocabulary(folder)
    assert str(raised.value).startswith(f"{folder / file}: ")
    assert message in str(raised.value)
