"""Issue 16's eight weaknesses of the review app, one group of tests each (OWASP ASVS level 2).

Each test failed on the code before the fix and passes after. Time is controlled through the
app's clock (`app.state.clock`), a parameter of the app, never by patching.
"""

from __future__ import annotations

import re
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from builder import BuiltOutput
from fastapi.testclient import TestClient
from review_helpers import PASSWORD, Env, csrf_of, login, make_env
from sqlalchemy import select
from typer.testing import CliRunner

from pipeline.errors import CallQAError
from review.db import AuditEntry, User, utcnow


def _audit(env: Env, action: str | None = None) -> list[AuditEntry]:
    with env.app.state.sessionmaker() as db:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list(db.scalars(query))


def _audio_src(client: TestClient, page: str) -> str:
    """The audio URL the call page gives the player (it carries this listen's token)."""
    html = client.get(page).text
    found = re.search(r'<audio[^>]*src="([^"]+)"', html)
    assert found, f"no player on {page}"
    return found.group(1).replace("&amp;", "&")


def _advance(env: Env, delta: timedelta) -> None:
    """Move the app's clock forward (sessions, listens and throttling all read it)."""
    start = utcnow()
    env.app.state.clock = lambda: start + delta


# -- 1. listening without a trace ------------------------------------------------------------


@pytest.mark.parametrize(
    "range_header", [None, "bytes=0-", "bytes=00-", "Bytes=0-", "bytes=0-9,100-", "bytes=500-"]
)
def test_every_listen_is_audited_once_whatever_the_range_header(
    env: Env, range_header: str | None
) -> None:
    b = env.built
    lena = env.client("lena")
    call = b.with_audio[0]
    bare = f"/calls/{call}/audio"
    headers = {"Range": range_header} if range_header else {}
    # Without a listen token the original recording is never served, whatever the headers.
    assert lena.get(bare, headers=headers).status_code == 403
    for listen in range(2):
        src = _audio_src(lena, f"/calls/{call}")
        assert src.startswith(bare + "?listen=")
        for _ in range(3):  # a player's many ranges of one listen
            assert lena.get(src, headers=headers).status_code in (200, 206)
        assert len(_audit(env, "play_audio")) == listen + 1
    # The same for a scrutiny member's silenced audio.
    sam = env.client("sam")
    pack_src = _audio_src(sam, f"/scrutiny/packs/{env.pack_id}/calls/1")
    assert sam.get(pack_src.split("?")[0], headers=headers).status_code == 403
    assert sam.get(pack_src, headers=headers).status_code in (200, 206)
    assert sam.get(pack_src, headers=headers).status_code in (200, 206)
    assert [e.user_name for e in _audit(env, "play_audio")] == ["lena", "lena", "sam"]


def test_a_listen_token_is_bound_to_its_user_call_and_time(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    src = _audio_src(lena, f"/calls/{b.with_audio[0]}")
    token = src.split("listen=")[1]
    other_call = f"/calls/{b.with_audio[1]}/audio?listen={token}"
    assert lena.get(other_call).status_code == 403
    # Another lead (another session) cannot replay it.
    with env.app.state.sessionmaker() as db:
        db.add(User(name="lou", role="quality_lead", password_hash=_hash(), active=True))
        db.commit()
    assert env.client("lou").get(src).status_code == 403
    assert lena.get(src).status_code == 200
    _advance(env, timedelta(hours=3))
    assert lena.get(src).status_code in (303, 403)  # the session and the token have expired


def _hash() -> str:
    from review_helpers import password_hash

    return password_hash()


# -- 2. sessions that cannot end -------------------------------------------------------------


def _session_cookie(client: TestClient) -> tuple[str, str]:
    found = [(c.name, c.value) for c in client.cookies.jar if c.name.endswith("callqa_session")]
    assert len(found) == 1, found
    return found[0]


def _copy(env: Env, cookie: tuple[str, str]) -> TestClient:
    thief = env.client()
    thief.cookies.set(*cookie)
    return thief


def test_a_copied_cookie_dies_at_sign_out(env: Env) -> None:
    lena = env.client("lena")
    cookie = _session_cookie(lena)
    assert str(env.user_ids["lena"]) != cookie[1] and len(cookie[1]) >= 40
    assert _copy(env, cookie).get("/queue").status_code == 200
    token = csrf_of(lena, "/queue")
    assert lena.post("/logout", data={"csrf_token": token}).status_code == 303
    assert _copy(env, cookie).get("/queue").status_code == 303


@pytest.mark.parametrize(
    "change",
    [
        {"role": "quality_lead", "active": "on", "password": "a brand new passphrase 9"},
        {"role": "admin", "active": "on"},
        {"role": "quality_lead"},  # disabled
    ],
)
def test_a_copied_cookie_dies_when_an_admin_changes_the_user(
    env: Env, change: dict[str, str]
) -> None:
    lena = env.client("lena")
    cookie = _session_cookie(lena)
    ada = env.client("ada")
    token = csrf_of(ada, "/admin/users")
    answer = ada.post(f"/admin/users/{env.user_ids['lena']}", data={"csrf_token": token, **change})
    assert answer.status_code == 303
    thief = _copy(env, cookie)
    assert thief.get("/queue").status_code == 303
    assert thief.get("/admin/users").status_code == 303  # a promoted cookie is not an admin


def test_sessions_time_out_when_idle_and_after_eight_hours(env: Env) -> None:
    lena = env.client("lena")
    _advance(env, timedelta(minutes=29))
    assert lena.get("/queue").status_code == 200
    _advance(env, timedelta(minutes=29 + 31))  # idle 31 minutes since the last request
    assert lena.get("/queue").status_code == 303
    env.app.state.clock = utcnow
    lena = env.client("lena")
    start = utcnow()
    for minutes in range(20, 8 * 60, 20):  # busy all day, never idle for long
        env.app.state.clock = lambda m=minutes: start + timedelta(minutes=m)
        assert lena.get("/queue").status_code == 200, minutes
    env.app.state.clock = lambda: start + timedelta(hours=8, minutes=1)
    assert lena.get("/queue").status_code == 303


def test_sign_in_rotates_the_session_and_a_rebuilt_database_knows_no_cookie(
    env: Env, tmp_path: Path
) -> None:
    client = env.client()
    planted = csrf_of(client)
    before = dict(client.cookies.items())
    assert login(client, "lena").status_code == 303
    name, value = _session_cookie(client)
    assert value not in before.values() and planted not in value
    # The cookie names no user: on a database rebuilt with other users it is nobody.
    other = make_env(env.built, f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    thief = TestClient(other.app, follow_redirects=False)
    thief.cookies.set(name, value)
    assert thief.get("/queue").status_code == 303
    other.app.state.engine.dispose()


# -- 3. keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\n", b"tooshort\n"])
def test_the_app_refuses_an_empty_or_short_key(built: BuiltOutput, content: bytes) -> None:
    from review.app import create_app

    state = built.out_dir.parent / "state"
    state.mkdir(mode=0o700)
    (state / "session.key").write_bytes(content)
    with pytest.raises(CallQAError) as err:
        create_app(built.out_dir, None, built.recordings_dir, state_dir=state)
    assert "session.key" in str(err.value) and "\n" not in str(err.value)


def test_keys_are_made_atomically_apart_and_outside_the_shared_output(built: BuiltOutput) -> None:
    from review.app import create_app

    state = built.out_dir.parent / "state"
    app = create_app(built.out_dir, None, built.recordings_dir, state_dir=state)
    app.state.engine.dispose()
    keys = {p.name: p.read_bytes() for p in state.iterdir()}
    assert set(keys) == {"session.key", "pseudonym.key"}
    assert keys["session.key"] != keys["pseudonym.key"]
    for name in keys:
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600
    assert not list((built.out_dir / ".callqa").glob("*.key"))
    create_app(built.out_dir, None, None, state_dir=state).state.engine.dispose()
    assert {p.name: p.read_bytes() for p in state.iterdir()} == keys  # reused, never remade
    # Keys inside the output folder (shared with Dask workers) are refused.
    with pytest.raises(CallQAError, match="shared"):
        create_app(built.out_dir, None, None, state_dir=built.out_dir / ".callqa")
    # A folder that cannot be made is a one-line refusal too.
    blocker = built.out_dir.parent / "a-file"
    blocker.write_text("x")
    with pytest.raises(CallQAError, match="cannot"):
        create_app(built.out_dir, None, None, state_dir=blocker / "state")


def test_callqa_review_stops_with_one_line_on_a_bad_key(built: BuiltOutput) -> None:
    from callqa.cli import app as cli

    state = built.out_dir.parent / "state"
    state.mkdir()
    (state / "session.key").write_bytes(b"")
    result = CliRunner().invoke(
        cli,
        ["review", "--out", str(built.out_dir)],
        env={"CALLQA_REVIEW_STATE_DIR": str(state)},
    )
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "session.key" in lines[0], result.output


# -- 4. packs from anywhere -------------------------------------------------------------------


def test_packs_only_from_scrutiny_sample_folders_under_the_packs_root(env: Env) -> None:
    b = env.built
    ada = env.client("ada")
    token = csrf_of(ada, "/admin/packs")
    bad = [
        str(b.out_dir / "restricted"),
        str(b.out_dir / "restricted" / f"call_date={b.dates[0]}"),
        str(b.recordings_dir),
        "/",
        str(b.out_dir),
        str(b.packs_dir / ".." / "recordings"),
        str(b.packs_dir),  # the root itself: no manifest
    ]
    no_manifest = b.packs_dir / "hand-made"
    no_manifest.mkdir()
    (no_manifest / "transcripts.parquet").write_bytes(
        (b.out_dir / "restricted" / f"call_date={b.dates[0]}" / "part-0.parquet").read_bytes()
    )
    bad.append(str(no_manifest))
    for i, folder in enumerate(bad):
        answer = ada.post(
            "/admin/packs", data={"csrf_token": token, "name": f"Bad {i}", "folder": folder}
        )
        assert answer.status_code == 400, folder
    with env.app.state.sessionmaker() as db:
        from review.db import Pack

        assert [p.name for p in db.scalars(select(Pack))] == ["March panel"]
    # The pack's own folder, by its name under the root, is fine.
    good = ada.post("/admin/packs", data={"csrf_token": token, "name": "Again", "folder": "march"})
    assert good.status_code == 303, good.text


def test_scrutiny_urls_and_pages_carry_pack_numbers_not_call_ids(env: Env) -> None:
    b = env.built
    sam = env.client("sam")
    listing = sam.get(f"/scrutiny/packs/{env.pack_id}")
    assert listing.status_code == 200
    for call_id in b.call_ids:
        assert call_id not in listing.text
    page = sam.get(f"/scrutiny/packs/{env.pack_id}/calls/1")
    assert page.status_code == 200
    for call_id in b.call_ids:
        assert call_id not in page.text
    assert sam.get(f"/scrutiny/packs/{env.pack_id}/calls/{b.pack_calls[0]}").status_code == 404


def test_agents_spoken_names_are_redacted_in_pack_transcripts(env: Env) -> None:
    sam = env.client("sam")
    for number in range(1, len(env.built.pack_calls) + 1):
        page = sam.get(f"/scrutiny/packs/{env.pack_id}/calls/{number}").text
        assert "my name is" in page and "Sam" not in page.replace("sam", "")


def test_spoken_agent_names_are_found_in_the_usual_phrasings() -> None:
    from pipeline.agentnames import redact_agent_names

    cases = {
        "Hello, my name is Sam, how can I help?": "Hello, my name is [AGENT_NAME], how can I help?",
        "you're speaking to Priya today": "you're speaking to [AGENT_NAME] today",
        "You are speaking with Tom.": "You are speaking with [AGENT_NAME].",
        "hi it's gareth speaking": "hi it's [AGENT_NAME] speaking",
        "my name's Mary-Ann and": "my name's [AGENT_NAME] and",
        "Sam speaking, how can I help": "[AGENT_NAME] speaking, how can I help",
        "my name is [PERSON_NAME]": "my name is [PERSON_NAME]",
        "you're speaking to the council": "you're speaking to the council",
    }
    for text, expected in cases.items():
        assert redact_agent_names(text) == expected, text


# -- 5. lockout as a weapon --------------------------------------------------------------------


def _from(env: Env, address: str) -> TestClient:
    return TestClient(env.app, follow_redirects=False, client=(address, 40000))


def test_guessing_slows_the_guesser_and_never_locks_out_the_user(env: Env) -> None:
    start = utcnow()
    env.app.state.clock = lambda: start  # time stands still unless the test moves it
    attacker = _from(env, "203.0.113.66")
    answers = [login(attacker, "ada", "wrong password").status_code for _ in range(12)]
    assert answers[:5] == [400] * 5 and set(answers[5:]) == {429}
    # The real admin, from her own desk, signs in at once: no lockout.
    assert login(_from(env, "10.1.2.3"), "ada").status_code == 303
    # The guesser waits longer and longer: 1 s, then 2 s, then 4 s ...
    elapsed = 0
    waits = []
    for _ in range(3):
        refused = login(attacker, "ada", "wrong password")
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        waits.append(wait)
        elapsed += wait
        env.app.state.clock = lambda e=elapsed: start + timedelta(seconds=e)
        assert login(attacker, "ada", "wrong password").status_code == 400
    assert waits == [1, 2, 4]
    assert _audit(env, "login_throttled")


def test_parallel_guesses_get_no_more_than_the_allowed_attempts(env: Env) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def guess() -> None:
        client = _from(env, "198.51.100.7")
        token = csrf_of(client)
        barrier.wait()
        answer = client.post(
            "/login", data={"csrf_token": token, "name": "lena", "password": "wrong password"}
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(400) == 5 and statuses.count(429) == 7, statuses
    assert len(_audit(env, "login_failed")) == 5


def test_colleagues_behind_one_address_do_not_throttle_each_other(env: Env) -> None:
    """Sign-ins that succeed give their claim back: a morning of them from one office
    address is never slowed, while that address's failures still count."""
    office = _from(env, "192.0.2.200")
    for _ in range(22):  # more than the address's free attempts
        assert login(office, "lena").status_code == 303


def test_password_hashing_is_bounded(env: Env) -> None:
    from review import security

    security.HASH_STATS.reset()
    threads = [
        threading.Thread(target=lambda i=i: login(_from(env, f"192.0.2.{i}"), "sid", "nope" * 4))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= security.HASH_STATS.max_in_flight <= security.HASH_SLOTS
    assert security.HASH_STATS.done >= 8


def test_forwarded_addresses_only_from_trusted_proxies(built: BuiltOutput, db_url: str) -> None:
    env = make_env(built, db_url, trusted_proxies=("10.0.0.1",))
    try:
        via_proxy = _from(env, "10.0.0.1")
        login(via_proxy, "lena", "wrong", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
        direct = _from(env, "10.0.0.2")
        login(direct, "lena", "wrong", headers={"X-Forwarded-For": "203.0.113.10"})
        assert [e.ip for e in _audit(env, "login_failed")] == ["203.0.113.9", "10.0.0.2"]
    finally:
        env.app.state.engine.dispose()


def test_users_change_their_own_password(env: Env) -> None:
    lena = env.client("lena")
    other = env.client("lena")  # another browser
    token = csrf_of(lena, "/account/password")
    new = "an entirely new passphrase"
    for bad, why in (
        ({"current": "wrong", "password": new, "confirm": new}, "current password"),
        ({"current": PASSWORD, "password": "short pw", "confirm": "short pw"}, "at least 12"),
        ({"current": PASSWORD, "password": "password1234", "confirm": "password1234"}, "common"),
        (
            {"current": PASSWORD, "password": "Qwertyuiop123!", "confirm": "Qwertyuiop123!"},
            "common",
        ),
        ({"current": PASSWORD, "password": new, "confirm": new + "x"}, "not the same"),
    ):
        answer = lena.post("/account/password", data={"csrf_token": token, **bad})
        assert answer.status_code == 400 and why in answer.text, why
    changed = lena.post(
        "/account/password",
        data={"csrf_token": token, "current": PASSWORD, "password": new, "confirm": new},
    )
    assert changed.status_code == 303
    assert lena.get("/queue").status_code == 200  # this browser goes on, with a new session
    assert other.get("/queue").status_code == 303  # every other session ended
    assert login(env.client(), "lena", PASSWORD).status_code == 400
    assert login(env.client(), "lena", new).status_code == 303


def test_common_passwords_are_refused_everywhere() -> None:
    from review.users import validate_new_user

    assert "common" in (validate_new_user("zed", "admin", "password1234") or "")
    assert "common" in (validate_new_user("zed", "admin", "iloveyou1234") or "")
    assert validate_new_user("zed", "admin", "plum tractor gallery 7") is None


# -- 6. refusals leave no trace ------------------------------------------------------------------


def test_refusals_and_page_views_are_audited(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    sam = env.client("sam")
    assert lena.get("/admin/users").status_code == 403
    assert sam.get(f"/scrutiny/packs/{env.pack_id + 5}").status_code == 403
    assert sam.get(f"/calls/{b.flagged[0]}").status_code == 403
    assert lena.post(f"/calls/{b.flagged[0]}/review", data={"action": "save"}).status_code == 403
    refused = [(e.user_name, e.action, e.target) for e in _audit(env) if e.action == "refused"]
    assert refused == [
        ("lena", "refused", "/admin/users"),
        ("sam", "refused", f"/scrutiny/packs/{env.pack_id + 5}"),
        ("sam", "refused", f"/calls/{b.flagged[0]}"),
    ]
    assert [e.target for e in _audit(env, "csrf_failed")] == [f"/calls/{b.flagged[0]}/review"]
    assert sam.get(f"/scrutiny/packs/{env.pack_id}/calls/77").status_code == 404
    assert [e.target for e in _audit(env, "not_found")] == [
        f"/scrutiny/packs/{env.pack_id}/calls/77"
    ]
    # What an attacker types reaches the log without control characters (PostgreSQL refuses
    # NUL; a line break would forge a line in an export).
    assert login(env.client(), "eve\x00\nadmin login ok", "wrong").status_code == 400
    assert lena.get("/calls/C1%00%0Ax/audio").status_code == 404
    logged = [e.target for e in _audit(env) if e.action in ("login_failed", "not_found")]
    assert "eve??admin login ok" in logged and "/calls/C1" in logged[-1]
    assert all(c.isprintable() for target in logged for c in target)
    for path in ("/queue", "/agents", "/agents/A101", "/dashboard", f"/dashboard/{b.month}/report"):
        assert lena.get(path).status_code == 200
    actions = [e.action for e in _audit(env) if e.user_name == "lena"]
    for action in ("view_queue", "view_agents", "view_agent", "view_dashboard", "view_report"):
        assert action in actions


def test_audited_page_views_in_parallel_never_wait_for_each_other(env: Env) -> None:
    """More parallel page views than pooled connections, each refreshing its session before
    its audit row: every one is answered and audited (the audit takes its connection before
    SQLite's write turn, never while holding it)."""
    from review.sessions import start_session

    # 32 sessions last seen two minutes ago: each request refreshes its session (a commit,
    # which hands the connection back to the pool) before it writes its audit row.
    clients = []
    with env.app.state.sessionmaker() as db:
        for _ in range(32):
            raw = start_session(db, env.user_ids["lena"], utcnow() - timedelta(minutes=2), "", None)
            client = env.client()
            client.cookies.set("callqa_session", raw)
            clients.append(client)
    statuses: list[int] = []
    barrier = threading.Barrier(32)

    def view(client: TestClient) -> None:
        barrier.wait()
        statuses.append(client.get("/agents").status_code)

    threads = [threading.Thread(target=view, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200] * 32
    assert len(_audit(env, "view_agents")) == 32


# -- 7. transport ------------------------------------------------------------------------------


def test_behind_tls_cookies_are_secure_host_cookies_and_hsts_is_sent(
    built: BuiltOutput, db_url: str
) -> None:
    env = make_env(built, db_url, behind_tls=True)
    try:
        client = TestClient(env.app, base_url="https://review.example", follow_redirects=False)
        page = client.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert login(client, "lena").status_code == 303
        cookies = [c for c in client.cookies.jar if c.name.endswith("callqa_session")]
        assert [c.name for c in cookies] == ["__Host-callqa_session"]
        assert cookies[0].secure and cookies[0].path == "/" and not cookies[0].domain_specified
        assert client.get("/queue").status_code == 200
    finally:
        env.app.state.engine.dispose()
    from review_helpers import app_options

    from review.app import create_app

    plain = create_app(built.out_dir, db_url, built.recordings_dir, **app_options(built))
    try:
        page = TestClient(plain).get("/login")
        assert "strict-transport-security" not in page.headers
        assert "Secure" not in page.headers["set-cookie"]
    finally:
        plain.state.engine.dispose()


def test_healthz_answers_with_no_data(env: Env) -> None:
    answer = env.client().get("/healthz")
    assert answer.status_code == 200 and answer.text == "ok"
    assert "set-cookie" not in answer.headers
    doc = (Path(__file__).parents[2] / "docs" / "deploy.md").read_text()
    assert "systemd" in doc and "X-Forwarded-For" in doc and "trusted_proxies" in doc


# -- 8. least privilege --------------------------------------------------------------------------


def test_a_scoped_lead_opens_only_their_queues_everywhere(env: Env) -> None:
    from review.users import set_scope

    b = env.built
    set_scope(env.db_url, "lena", ["queue:housing"])
    lena = env.client("lena")
    calls = env.app.state.store.calls().set_index("call_id")
    mine = [c for c in b.with_audio if calls.loc[c, "queue"] == "housing"]
    theirs = [c for c in b.with_audio if calls.loc[c, "queue"] != "housing"]
    queue = lena.get("/queue?status=all").text
    assert "housing" in queue.lower()
    for call_id in b.flagged:
        assert (call_id in queue) == (calls.loc[call_id, "queue"] == "housing") or call_id in mine
    assert lena.get(f"/calls/{mine[0]}").status_code == 200
    assert lena.get(_audio_src(lena, f"/calls/{mine[0]}")).status_code == 200
    for path in (f"/calls/{theirs[0]}", f"/calls/{theirs[0]}?view=restricted"):
        assert lena.get(path).status_code == 403, path
    # A token for an allowed call does not open another call's audio.
    token = _audio_src(lena, f"/calls/{mine[0]}").split("listen=")[1]
    assert lena.get(f"/calls/{theirs[0]}/audio?listen={token}").status_code == 403
    form = {"csrf_token": csrf_of(lena, f"/calls/{mine[0]}"), "action": "save"}
    assert lena.post(f"/calls/{theirs[0]}/review", data=form).status_code == 403
    agents = lena.get("/agents").text
    housing_agents = set(calls[calls["queue"] == "housing"]["agent_id"])
    for agent_id in set(calls["agent_id"]) - housing_agents:
        assert f"/agents/{agent_id}" not in agents
        assert lena.get(f"/agents/{agent_id}").status_code in (403, 404)
    # A team scope: the agents' pages show only that team's agents.
    set_scope(env.db_url, "lena", ["team:Blue"])
    lena = env.client("lena")
    agents = lena.get("/agents").text
    assert "/agents/A101" in agents and "/agents/A305" not in agents
    assert lena.get("/agents/A305").status_code == 404
    red = calls[calls["team"] == "Red"].index[0]
    assert lena.get(f"/calls/{red}").status_code == 403
    # An unscoped lead still sees everything.
    set_scope(env.db_url, "lena", [])
    assert lena.get(f"/calls/{theirs[0]}").status_code in (200, 303)
