"""CSRF, sign-in throttling, cookies and headers, path traversal, byte ranges, the audit log."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from builder import rewrite_night, write_wav
from review_helpers import PASSWORD, Env, csrf_of, login, served_routes
from sqlalchemy import select

from pipeline import store
from review.data import AUDIO_TYPES, safe_file
from review.db import Assignment, AuditEntry, CoachingEntry, Review


def _audit(env: Env) -> list[AuditEntry]:
    with env.app.state.sessionmaker() as db:
        return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_every_form_post_needs_the_session_csrf_token(env: Env) -> None:
    """Each POST route, by a user allowed to use it, is refused without the token or with
    another session's token, and nothing changes."""
    b = env.built
    posts = [
        ("lena", f"/calls/{b.flagged[0]}/review", {"action": "reviewed", "tag_complaint": "agree"}),
        ("lena", f"/calls/{b.flagged[0]}/assign", {"user_id": str(env.user_ids["lena"])}),
        ("lena", "/agents/A101/coaching", {"discussed": "x", "held_on": "2025-03-03"}),
        ("lena", "/agents/A101/coaching/1/acknowledge", {}),
        (
            "ada",
            "/admin/users",
            {"name": "eve", "role": "admin", "password": PASSWORD, "confirm": PASSWORD},
        ),
        ("ada", f"/admin/users/{env.user_ids['sid']}", {"role": "admin", "active": "on"}),
        ("ada", "/admin/packs", {"name": "x", "call_ids": b.call_ids[0]}),
        ("ada", f"/admin/packs/{env.pack_id}/grants", {"user_id": str(env.user_ids["sid"])}),
        ("ada", f"/admin/packs/{env.pack_id}/grants/{env.user_ids['sam']}/revoke", {}),
        ("lena", "/account/password", {"current": PASSWORD, "password": "x" * 20}),
        ("lena", "/logout", {}),
    ]
    routes = {path for method, path in served_routes() if method == "POST"}
    assert len(routes) == len(posts) + 1  # + /login, checked below
    other = csrf_of(env.client(), "/login")  # a token from a different (anonymous) session
    clients = {"lena": env.client("lena"), "ada": env.client("ada")}
    before = len(_audit(env))
    for user, path, form in posts:
        client = clients[user]
        assert client.post(path, data=form).status_code == 403, path
        assert client.post(path, data={**form, "csrf_token": other}).status_code == 403, path
        assert client.post(path, data={**form, "csrf_token": ""}).status_code == 403, path
    with env.app.state.sessionmaker() as db:
        assert db.scalars(select(Review)).first() is None
        assert db.scalars(select(Assignment)).first() is None
        assert db.scalars(select(CoachingEntry)).first() is None
    # Nothing happened; each refusal is logged, as a CSRF failure and nothing else.
    added = _audit(env)[before:]
    assert [e.action for e in added] == ["csrf_failed"] * (3 * len(posts))
    assert clients["lena"].get("/queue").status_code == 200  # still signed in: logout refused
    fresh = env.client()
    assert fresh.post("/login", data={"name": "lena", "password": PASSWORD}).status_code == 403


def test_sign_in_is_throttled_per_user_name_and_address(env: Env) -> None:
    client = env.client()
    for _ in range(5):
        assert login(client, "lena", "wrong password").status_code == 400
    blocked = login(client, "lena", PASSWORD)  # right password, but guessing too fast
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert "Too many attempts" in blocked.text
    assert client.get("/queue").status_code == 303  # not signed in
    assert login(env.client(), "ada", PASSWORD).status_code == 303  # other users unaffected
    actions = [e.action for e in _audit(env) if e.target == "lena"]
    assert actions == ["login_failed"] * 5 + ["login_throttled"]


def _audio_src(client, page: str) -> str:  # type: ignore[no-untyped-def]
    """The player's URL on a call page: it carries the page's listen token."""
    found = re.search(r'<audio[^>]*src="([^"]+)"', client.get(page).text)
    assert found, page
    return found.group(1).replace("&amp;", "&")


def test_cookie_and_security_headers(env: Env) -> None:
    client = env.client()
    page = client.get("/login")
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    csp = page.headers["content-security-policy"]
    assert (
        "default-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "script-src 'self'" in csp
    )
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and "style=" not in page.text  # CSP allows neither inline
    lena = env.client("lena")
    assert lena.get("/queue").status_code == 200
    # A tampered cookie is an anonymous visitor.
    value = lena.cookies.get("callqa_session")
    forged = env.client()
    forged.cookies.set("callqa_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert forged.get("/queue").status_code == 303
    forged.cookies.set("callqa_session", str(env.user_ids["lena"]))  # a bare user id
    assert forged.get("/queue").status_code == 303
    # The monthly report's own HTML is sandboxed: its scripts cannot run.
    report = lena.get(f"/dashboard/{env.built.month}/report")
    assert report.status_code == 200
    assert report.headers["content-security-policy"].startswith("sandbox")


def test_disabled_user_is_signed_out_at_once(env: Env) -> None:
    lena = env.client("lena")
    ada = env.client("ada")
    token = csrf_of(ada, "/admin/users")
    response = ada.post(
        f"/admin/users/{env.user_ids['lena']}", data={"csrf_token": token, "role": "quality_lead"}
    )
    assert response.status_code == 303
    assert lena.get("/queue").status_code == 303
    assert login(env.client(), "lena", PASSWORD).status_code == 400


@pytest.mark.parametrize(
    "call_id",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "C1%00",
        "..",
        "%2Fetc%2Fpasswd",
        "C20250303-0000%2F..%2F..%2Fsecret",
    ],
)
def test_audio_path_traversal_by_call_id(env: Env, call_id: str) -> None:
    lena = env.client("lena")
    sam = env.client("sam")
    for client, path in (
        (lena, f"/calls/{call_id}/audio"),
        (sam, f"/scrutiny/packs/{env.pack_id}/calls/{call_id}/audio"),
    ):
        response = client.get(path)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert b"root:" not in response.content and b"secret" not in response.content


def test_recording_paths_outside_the_recordings_folder_are_refused(
    env: Env, tmp_path: Path
) -> None:
    """A call log can name any path; only files really inside the recordings folder are served."""
    b = env.built
    outside = tmp_path / "outside.wav"
    write_wav(outside, seconds=1.0)
    link = b.recordings_dir / "link.wav"
    os.symlink(outside, link)
    bad = {
        b.call_ids[1]: "../outside.wav",
        b.call_ids[3]: str(outside),
        b.call_ids[5]: "link.wav",
        b.call_ids[7]: "2025-03-03/../../outside.wav",
        b.call_ids[9]: "/etc/passwd",
    }

    def misplaced(cards: pd.DataFrame) -> pd.DataFrame:
        paths = zip(cards["call_id"], cards["recording"], strict=True)
        return cards.assign(recording=[bad.get(c, r) for c, r in paths])

    for night in store.partition_dates(b.out_dir, store.SCORECARDS):
        rewrite_night(b.out_dir, store.SCORECARDS, night, misplaced)
    env.app.state.store.refresh_s = 0
    lena = env.client("lena")
    for call_id in bad:
        assert lena.get(f"/calls/{call_id}/audio").status_code == 404, call_id
    assert lena.get(_audio_src(lena, f"/calls/{b.with_audio[0]}")).status_code == 200
    # The same guard, directly.
    assert safe_file(b.recordings_dir, "../outside.wav") is None
    assert safe_file(b.recordings_dir, "link.wav") is None
    assert safe_file(b.recordings_dir, None) is None


def test_pack_audio_symlinked_outside_the_pack_is_refused(env: Env, tmp_path: Path) -> None:
    b = env.built
    secret = tmp_path / "unsilenced.wav"
    write_wav(secret, seconds=1.0)
    (b.pack_dir / b.pack_audio[0]).unlink()
    os.symlink(secret, b.pack_dir / b.pack_audio[0])
    sam = env.client("sam")
    page = sam.get(f"/scrutiny/packs/{env.pack_id}/calls/1").text
    assert "<audio" not in page
    assert sam.get(f"/scrutiny/packs/{env.pack_id}/calls/1/audio").status_code == 404
    src = _audio_src(sam, f"/scrutiny/packs/{env.pack_id}/calls/2")
    assert sam.get(src).status_code == 200


def test_audio_answers_byte_ranges(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    sam = env.client("sam")
    cases = [
        (
            lena,
            _audio_src(lena, f"/calls/{b.with_audio[0]}"),
            b.recordings_dir / f"{b.dates[0]}/{b.with_audio[0]}.wav",
        ),
        (
            sam,
            _audio_src(sam, f"/scrutiny/packs/{env.pack_id}/calls/1"),
            b.pack_dir / b.pack_audio[0],
        ),
    ]
    for client, url, file in cases:
        data = file.read_bytes()
        size = len(data)
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-type"] == AUDIO_TYPES[file.suffix]
        first = client.get(url, headers={"Range": "bytes=0-99"})
        assert first.status_code == 206
        assert first.headers["content-range"] == f"bytes 0-99/{size}"
        assert first.content == data[:100]
        middle = client.get(url, headers={"Range": "bytes=1000-"})
        assert middle.status_code == 206 and middle.content == data[1000:]
        tail = client.get(url, headers={"Range": "bytes=-64"})
        assert tail.status_code == 206 and tail.content == data[-64:]
        beyond = client.get(url, headers={"Range": f"bytes={size + 10}-{size + 20}"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"


def test_audit_log_records_logins_views_audio_and_reviews(env: Env) -> None:
    b = env.built
    login(env.client(), "lena", "not it")
    lena = env.client("lena")
    call = b.with_audio[0]
    src = _audio_src(lena, f"/calls/{call}")
    lena.get(f"/calls/{call}?view=restricted")
    lena.get(src, headers={"Range": "bytes=0-"})
    lena.get(src, headers={"Range": "bytes=5000-"})  # a seek: same listen
    token = csrf_of(lena, f"/calls/{call}")
    lena.post(
        f"/calls/{call}/review",
        data={"csrf_token": token, "action": "reviewed", "tag_greeting": "agree"},
    )
    sam = env.client("sam")
    sam.get(_audio_src(sam, f"/scrutiny/packs/{env.pack_id}/calls/1"))
    seen = [(e.user_name, e.action, e.target) for e in _audit(env)]
    expected = [
        ("lena", "login_failed", "lena"),
        ("lena", "login", "lena"),
        ("lena", "view_call", call),
        ("lena", "view_restricted", call),
        ("lena", "play_audio", call),
        ("lena", "view_call", call),  # the page the CSRF token was read from
        ("lena", "review_reviewed", call),
        ("sam", "login", "sam"),
        ("sam", "view_pack_call", b.pack_calls[0]),
        ("sam", "play_audio", b.pack_calls[0]),
    ]
    assert seen == expected
    entries = _audit(env)
    assert all(e.ip for e in entries) and entries[2].role == "quality_lead"
    page = env.client("ada").get("/admin/audit?action=view_restricted")
    assert page.status_code == 200 and call in page.text and "1 entries" in page.text


def test_a_pack_serves_only_what_its_manifest_names(env: Env) -> None:
    """Unredacted turns dropped beside `pack.parquet`, or a manifest naming a file outside the
    pack, never reach a scrutiny member."""
    b = env.built
    restricted = b.out_dir / "restricted" / f"call_date={b.dates[1]}" / "part-0.parquet"
    turns = pd.read_parquet(restricted)
    turns.to_parquet(b.pack_dir / "transcripts.parquet", index=False)
    manifest = store.read_file(b.pack_dir / store.PACK_FILE, store.SCRUTINY_PACK)
    manifest.loc[3, "audio"] = "../../recordings/" + b.dates[0] + "/" + b.with_audio[0] + ".wav"
    store.write_file(b.pack_dir / store.PACK_FILE, store.SCRUTINY_PACK, manifest)
    sam = env.client("sam")
    for number in range(1, len(b.pack_calls) + 1):
        page = sam.get(f"/scrutiny/packs/{env.pack_id}/calls/{number}").text
        assert not [secret for secret in b.secrets if secret in page]
    assert sam.get(f"/scrutiny/packs/{env.pack_id}/calls/4/audio").status_code == 404
