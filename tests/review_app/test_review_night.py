"""The review app over a REAL night: the session's `sample_night` (tests/conftest.py), screened
once by the nightly flow, and a scrutiny pack `scrutiny_sample` makes from it.

The built outputs of the other review tests are made-up calls put through the pipeline's writers
(tests/review_app/builder.py); these check that what a real night screens and tags (scorecard
`evidence`, the pack's `pack.parquet`) joins up with the app. Expectations come from the night's
own Parquet and the sample scripts' labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from review_helpers import PASSWORD, USERS, csrf_of, login, password_hash

from pipeline import store
from sample_data.scripted import DEMO_DATE, load_scripts

pytestmark = pytest.mark.timeout(600)

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


@dataclass
class Night:
    out: Path
    pack: Path
    app: FastAPI
    cards: pd.DataFrame


def _pii_values() -> list[str]:
    """Every personal-data value the sample scripts label, lower-cased."""
    scripts = load_scripts(SAMPLE_DATA / "scripts")
    return sorted({p.value.lower() for s in scripts if s.labels for p in s.labels.pii})


def _client(app: FastAPI, name: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert login(client, name, PASSWORD).status_code == 303
    return client


@pytest.fixture(scope="module")
def night(sample_night, tmp_path_factory) -> Iterator[Night]:  # type: ignore[no-untyped-def]
    """The real night, a real 3-call scrutiny pack of it, and the app over both (SQLite)."""
    from flows.scrutiny import run_scrutiny_sample
    from review.app import create_app
    from review.db import User

    out = sample_night[0]
    root = tmp_path_factory.mktemp("review-night")
    pack = root / "packs" / "night"
    run_scrutiny_sample(
        out, DEMO_DATE, DEMO_DATE, 3, pack, seed=5, recordings=SAMPLE_DATA / "recordings"
    )
    app = create_app(
        out,
        f"sqlite:///{root / 'review.sqlite'}",
        SAMPLE_DATA / "recordings",
        state_dir=root / "state",
        packs_dir=root / "packs",
    )
    with app.state.sessionmaker() as db:
        db.add_all(
            User(name=n, role=r, password_hash=password_hash(), active=True)
            for n, r in USERS.items()
        )
        db.commit()
    yield Night(out, pack, app, store.read_table(out, store.SCORECARDS))
    app.state.engine.dispose()


def test_real_scorecards_carry_redacted_evidence_for_their_flags(night: Night) -> None:
    cards = night.cards
    assert not cards.empty and "evidence" in cards.columns
    turns = store.read_table(night.out, store.TRANSCRIPTS)
    pii = _pii_values()
    for card in cards.itertuples():
        evidence = list(card.evidence)
        tags = {e["tag"] for e in evidence}
        # Every tag the tagger gave has the words behind it.
        assert {f"contact_reasons:{r}" for r in card.contact_reasons} - {
            "contact_reasons:other"
        } <= tags, card.call_id
        if card.avoidable:
            assert f"avoidable_category:{card.avoidable_category}" in tags, card.call_id
        if card.complaint:
            assert "complaint" in tags, card.call_id
        said = turns[turns["call_id"] == card.call_id].set_index("turn")["text"]
        for e in evidence:
            # The words are the redacted transcript's: no personal data, and findable there.
            assert not [v for v in pii if v in e["text"].lower()], e
            assert e["text"].lower() in said[e["turn"]].lower(), e
    assert any(len(e) for e in cards["evidence"]), "the night found no evidence at all"


def test_call_page_of_a_real_night_highlights_the_evidence(night: Night) -> None:
    lena = _client(night.app, "lena")
    flagged = night.cards[night.cards["needs_review"]]
    card = next(c for c in flagged.itertuples() if len(c.evidence))
    page = lena.get(f"/calls/{card.call_id}")
    assert page.status_code == 200
    # Overlapping evidence ("is there anything", "anything else") is marked in adjacent pieces.
    joined = page.text.replace("</mark><mark>", "")
    marked = [m.strip().lower() for m in re.findall(r"<mark>(.*?)</mark>", joined, re.S)]
    for e in card.evidence:
        assert any(str(escape(e["text"])).lower() in m for m in marked), e
    assert "Why it was flagged" in page.text and "No evidence was recorded" not in page.text
    # The unredacted view marks the same turns.
    full = lena.get(f"/calls/{card.call_id}?view=restricted").text
    assert full.count("turn--evidence") == page.text.count("turn--evidence") > 0


def test_real_pack_names_its_calls_only_in_pack_parquet(night: Night) -> None:
    manifest = store.read_file(night.pack / store.PACK_FILE, store.SCRUTINY_PACK)
    assert len(manifest) == 3 and set(manifest["call_id"]) <= set(night.cards["call_id"])
    assert all((night.pack / p).is_file() for p in manifest["page"])
    assert manifest["audio"].notna().any(), "no call of the pack has its silenced audio"
    assert all((night.pack / a).is_file() for a in manifest["audio"].dropna())
    # What councillors read never gives a call id, nor an agent's spoken name.
    for path in [*night.pack.glob("*.html"), night.pack / "index.csv"]:
        text = path.read_text()
        assert not [c for c in night.cards["call_id"] if c in text], path.name
        assert not re.search(r"(?i)my name is (?!\[)|speaking to (?!\[|the )", text), path.name


def test_real_pack_registered_by_an_admin_plays_silenced_audio(night: Night) -> None:
    manifest = store.read_file(night.pack / store.PACK_FILE, store.SCRUTINY_PACK)
    ada = _client(night.app, "ada")
    token = csrf_of(ada, "/admin/packs")
    added = ada.post(
        "/admin/packs",
        data={"csrf_token": token, "name": "Real night", "folder": night.pack.name},
    )
    assert added.status_code == 303, added.text
    from review.db import Pack, User

    with night.app.state.sessionmaker() as db:
        pack = db.query(Pack).filter_by(name="Real night").one()
        pack_id, calls = pack.id, {c.call_id for c in pack.calls}
        sam_id = db.query(User).filter_by(name="sam").one().id
    # The pack's calls are the manifest's, not its file names.
    assert calls == set(manifest["call_id"])
    granted = ada.post(
        f"/admin/packs/{pack_id}/grants",
        data={"csrf_token": csrf_of(ada, "/admin/packs"), "user_id": str(sam_id)},
    )
    assert granted.status_code == 303, granted.text

    sam = _client(night.app, "sam")
    listing = sam.get(f"/scrutiny/packs/{pack_id}")
    assert listing.status_code == 200
    ordered = manifest.sort_values("page").reset_index(drop=True)
    with_audio = ordered.dropna(subset=["audio"])
    row, number = with_audio.iloc[0], int(with_audio.index[0]) + 1  # pack-local numbers
    page = sam.get(f"/scrutiny/packs/{pack_id}/calls/{number}")
    assert page.status_code == 200 and "/audio" in page.text
    # Only redacted words reach a scrutiny member: no personal data, no agent's spoken name,
    # and the tags in words.
    shown = page.text.lower()
    assert not [v for v in _pii_values() if v in shown]
    assert not re.search(r"(?i)my name is (?!\[)|speaking to (?!\[|the )", page.text)
    card = night.cards.set_index("call_id").loc[row["call_id"]]
    assert card["agent_id"] not in page.text and row["call_id"] not in page.text
    silenced = (night.pack / row["audio"]).read_bytes()
    src = re.search(r'<audio[^>]*src="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    audio = sam.get(src, headers={"Range": "bytes=0-99"})
    assert audio.status_code == 206 and audio.content == silenced[:100]
    assert audio.headers["content-type"] == "audio/ogg"
    # Not by call id or file name, and not the original recording.
    for other in (row["call_id"], row["page"][:-5]):
        assert sam.get(f"/scrutiny/packs/{pack_id}/calls/{other}/audio").status_code == 404
    original = SAMPLE_DATA / "recordings" / str(card["recording"])
    assert not original.is_file() or original.read_bytes()[:100] != silenced[:100]
