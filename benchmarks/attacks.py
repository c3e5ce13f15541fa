"""Attacks on a running review app: forged and replayed cookies, CSRF, role crossing, path
tricks, header games, listening tokens and sign-in races. Each attack reports whether it
worked; the app passes when none did.

Starts the app under uvicorn on 127.0.0.1 over the review tests' synthetic output (users of
every role, a scrutiny pack, a quality lead scoped to one queue), runs every attack with plain
HTTP requests (httpx), and writes benchmarks/attacks.json. tests/review_app/
test_review_attacks.py runs the same attacks.

    .venv/bin/python benchmarks/attacks.py [--db URL]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/ holds review.py: drop this folder from the path so `review` is the app package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests" / "review_app"))

from builder import BuiltOutput, build_output  # noqa: E402

__all__ = ["Attack", "Target", "prepare", "run_attacks", "serve"]

PASSWORD = "plum tractor gallery 0123"
USERS = {
    "ada": "admin",
    "lena": "quality_lead",
    "lou": "quality_lead",  # scoped to the housing queue
    "sam": "scrutiny",  # has the pack
    "sid": "scrutiny",  # has no pack
    "dan": "quality_lead",  # disabled by an attack
}


@dataclass
class Attack:
    name: str
    kind: str
    succeeded: bool
    detail: str = ""


@dataclass
class Target:
    """What the attacks know: the app's address, the ids a user could see or guess."""

    base: str
    built: BuiltOutput
    pack_id: int
    housing: list[str] = field(default_factory=list)  # calls in lou's scope, with audio
    elsewhere: list[str] = field(default_factory=list)  # calls outside it, with audio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(work: Path, db_url: str | None = None) -> tuple[BuiltOutput, str, int]:
    """A built output, its database with USERS, the pack granted to sam, lou's scope."""
    from review.data import OutputStore
    from review.db import make_engine, make_sessionmaker, migrate
    from review.users import add_user, create_pack, grant_pack, set_scope

    built = build_output(work)
    db_url = db_url or f"sqlite:///{work / 'review.sqlite'}"
    for name, role in USERS.items():
        add_user(db_url, name, role, PASSWORD)
    engine = make_engine(db_url)
    migrate(engine)
    with make_sessionmaker(engine)() as db:
        pack = create_pack(
            db,
            OutputStore(built.out_dir, built.recordings_dir),
            "Panel",
            folder="march",
            created_by="ada",
            packs_dir=built.packs_dir,
        )
        db.commit()
        pack_id = pack.id
    engine.dispose()
    grant_pack(db_url, "sam", "Panel")
    set_scope(db_url, "lou", "queue:housing")
    return built, db_url, pack_id


@contextmanager
def serve(built: BuiltOutput, db_url: str) -> Iterator[str]:
    """The app under uvicorn in its own process; yields its base URL."""
    port = _free_port()
    state = built.out_dir.parent / "state"
    code = (
        "import uvicorn; from pathlib import Path; from review.app import create_app; "
        f"uvicorn.run(create_app(Path({str(built.out_dir)!r}), {db_url!r}, "
        f"Path({str(built.recordings_dir)!r}), state_dir=Path({str(state)!r}), "
        f"packs_dir=Path({str(built.packs_dir)!r})), host='127.0.0.1', port={port}, "
        "log_level='warning', proxy_headers=False)"
    )
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the review app did not start")
        yield base
    finally:
        server.terminate()
        server.wait(10)


# -- helpers -----------------------------------------------------------------------------------


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, follow_redirects=False, timeout=30)


def _csrf(client: httpx.Client, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    return found.group(1) if found else ""


def _login(client: httpx.Client, name: str, password: str = PASSWORD, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
    data = {"csrf_token": _csrf(client), "name": name, "password": password, **kw}
    return client.post("/login", data=data)


def _signed_in(base: str, name: str) -> httpx.Client:
    client = _client(base)
    answer = _login(client, name)
    if answer.status_code != 303:
        raise RuntimeError(f"{name} could not sign in: {answer.status_code}")
    return client


def _cookie(client: httpx.Client) -> str:
    return client.cookies.get("callqa_session") or ""


def _with_cookie(base: str, value: str) -> httpx.Client:
    client = _client(base)
    client.cookies.set("callqa_session", value)
    return client


def _audio_src(client: httpx.Client, page: str) -> str:
    found = re.search(r'<audio[^>]*src="([^"]+)"', client.get(page).text)
    return found.group(1).replace("&amp;", "&") if found else ""


def _signed_out(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].startswith("/login")


def _audit_count(admin: httpx.Client, action: str) -> int:
    page = admin.get(f"/admin/audit?action={action}").text
    found = re.search(r"(\d+) entries", page)
    return int(found.group(1)) if found else -1


# -- the attacks -------------------------------------------------------------------------------


def run_attacks(target: Target) -> list[Attack]:
    """Every attack against the running app, in an order where none spoils the next."""
    base, b = target.base, target.built
    results: list[Attack] = []

    def attack(kind: str) -> Callable[[Callable[[], tuple[bool, str]]], None]:
        def run(fn: Callable[[], tuple[bool, str]]) -> None:
            try:
                worked, detail = fn()
            except Exception as exc:  # an attack that crashes the app counts as working
                worked, detail = True, f"{type(exc).__name__}: {exc}"
            results.append(Attack(fn.__name__, kind, worked, detail))

        return run

    ada = _signed_in(base, "ada")
    lena = _signed_in(base, "lena")
    sam = _signed_in(base, "sam")
    sid = _signed_in(base, "sid")
    lou = _signed_in(base, "lou")
    call = b.flagged[0]
    audio_call = target.elsewhere[0]

    # Cookies and sessions ------------------------------------------------------------------
    @attack("cookie")
    def forged_random_session_cookie() -> tuple[bool, str]:
        answer = _with_cookie(base, "A" * 43).get("/queue")
        return not _signed_out(answer), str(answer.status_code)

    @attack("cookie")
    def session_cookie_holding_a_user_id() -> tuple[bool, str]:
        answers = [_with_cookie(base, v).get("/admin/users") for v in ("1", "2", "ada")]
        return not all(_signed_out(a) for a in answers), str([a.status_code for a in answers])

    @attack("cookie")
    def oversized_and_garbage_cookies() -> tuple[bool, str]:
        answers = [_with_cookie(base, v).get("/queue") for v in ("x" * 4000, "%00%0d%0a", "'; --")]
        return not all(_signed_out(a) for a in answers), str([a.status_code for a in answers])

    @attack("cookie")
    def session_fixation_with_a_planted_cookie() -> tuple[bool, str]:
        planted = "P" * 43
        victim = _with_cookie(base, planted)
        _login(victim, "lena")
        answer = _with_cookie(base, planted).get("/queue")
        return not _signed_out(answer), str(answer.status_code)

    @attack("cookie")
    def replay_cookie_after_sign_out() -> tuple[bool, str]:
        victim = _signed_in(base, "lena")
        stolen = _cookie(victim)
        victim.post("/logout", data={"csrf_token": _csrf(victim, "/queue")})
        answer = _with_cookie(base, stolen).get("/queue")
        return not _signed_out(answer), str(answer.status_code)

    @attack("cookie")
    def replay_cookie_after_admin_password_reset() -> tuple[bool, str]:
        victim = _signed_in(base, "dan")
        stolen = _cookie(victim)
        form = {
            "csrf_token": _csrf(ada, "/admin/users"),
            "role": "quality_lead",
            "active": "on",
            "password": "a fresh reset passphrase",
        }
        ada.post(f"/admin/users/{_user_id(ada, 'dan')}", data=form)
        answer = _with_cookie(base, stolen).get("/queue")
        return not _signed_out(answer), str(answer.status_code)

    @attack("cookie")
    def promoted_users_old_cookie_gets_no_admin() -> tuple[bool, str]:
        victim = _signed_in(base, "lena")
        stolen = _cookie(victim)
        uid = _user_id(ada, "lena")
        token = _csrf(ada, "/admin/users")
        ada.post(f"/admin/users/{uid}", data={"csrf_token": token, "role": "admin", "active": "on"})
        answer = _with_cookie(base, stolen).get("/admin/users")
        ada.post(
            f"/admin/users/{uid}",
            data={"csrf_token": token, "role": "quality_lead", "active": "on"},
        )
        return answer.status_code == 200, str(answer.status_code)

    lena = _signed_in(base, "lena")  # the role change above ended her sessions

    @attack("cookie")
    def forged_anonymous_csrf_cookie() -> tuple[bool, str]:
        client = _client(base)
        client.cookies.set("callqa_pre", "Z" * 43 + "." + "0" * 40)
        answer = client.post(
            "/login", data={"csrf_token": "Z" * 43, "name": "lena", "password": PASSWORD}
        )
        return answer.status_code != 403, str(answer.status_code)

    # CSRF ----------------------------------------------------------------------------------
    @attack("csrf")
    def review_post_without_token() -> tuple[bool, str]:
        answer = lena.post(f"/calls/{call}/review", data={"action": "reviewed"})
        return answer.status_code != 403, str(answer.status_code)

    @attack("csrf")
    def review_post_with_another_sessions_token() -> tuple[bool, str]:
        other = _csrf(_signed_in(base, "lena"), f"/calls/{call}")
        answer = lena.post(f"/calls/{call}/review", data={"csrf_token": other, "action": "save"})
        return answer.status_code != 403, str(answer.status_code)

    @attack("csrf")
    def token_in_the_query_string_not_the_form() -> tuple[bool, str]:
        token = _csrf(ada, "/admin/users")
        answer = ada.post(
            f"/admin/users?csrf_token={token}",
            data={"name": "mallory", "role": "admin", "password": PASSWORD, "confirm": PASSWORD},
        )
        return answer.status_code != 403, str(answer.status_code)

    @attack("csrf")
    def login_csrf_without_token() -> tuple[bool, str]:
        answer = _client(base).post("/login", data={"name": "lena", "password": PASSWORD})
        return answer.status_code != 403, str(answer.status_code)

    @attack("csrf")
    def sign_out_by_get() -> tuple[bool, str]:
        victim = _signed_in(base, "lena")
        victim.get("/logout")
        answer = victim.get("/queue")
        return answer.status_code != 200, f"after GET /logout: {answer.status_code}"

    # Role crossing -------------------------------------------------------------------------
    @attack("role")
    def lead_opens_admin_pages() -> tuple[bool, str]:
        answers = [lena.get(p).status_code for p in ("/admin/users", "/admin/audit")]
        return answers != [403, 403], str(answers)

    @attack("role")
    def lead_creates_an_admin_with_a_valid_token() -> tuple[bool, str]:
        form = {
            "csrf_token": _csrf(lena, "/queue"),
            "name": "mallory2",
            "role": "admin",
            "password": PASSWORD,
            "confirm": PASSWORD,
        }
        answer = lena.post("/admin/users", data=form)
        return answer.status_code != 403 or _user_id(ada, "mallory2") is not None, str(
            answer.status_code
        )

    @attack("role")
    def scrutiny_member_opens_a_call_and_its_full_transcript() -> tuple[bool, str]:
        answers = [sam.get(f"/calls/{call}{q}").status_code for q in ("", "?view=restricted")]
        return answers != [403, 403], str(answers)

    @attack("role")
    def scrutiny_member_opens_the_queue_and_agents() -> tuple[bool, str]:
        answers = [sam.get(p).status_code for p in ("/queue", "/agents", "/agents/A101")]
        return answers != [403, 403, 403], str(answers)

    @attack("role")
    def member_opens_a_pack_not_shared_with_them() -> tuple[bool, str]:
        answers = [
            sid.get(f"/scrutiny/packs/{target.pack_id}{s}").status_code
            for s in ("", "/calls/1", "/calls/1/audio")
        ]
        return answers != [403, 403, 403], str(answers)

    @attack("role")
    def member_walks_pack_ids() -> tuple[bool, str]:
        answers = [sam.get(f"/scrutiny/packs/{i}").status_code for i in (0, 2, 3, 999, -1)]
        return any(a == 200 for a in answers), str(answers)

    @attack("role")
    def member_asks_for_a_call_id_instead_of_a_number() -> tuple[bool, str]:
        outside = next(c for c in b.call_ids if c not in b.pack_calls)
        answers = [
            sam.get(f"/scrutiny/packs/{target.pack_id}/calls/{c}").status_code
            for c in (b.pack_calls[0], outside, "0", "-1", "1.0", "01e0")
        ]
        return any(a == 200 for a in answers), str(answers)

    @attack("role")
    def admin_reads_the_review_queue() -> tuple[bool, str]:
        answers = [ada.get(p).status_code for p in ("/queue", f"/calls/{call}")]
        return answers != [403, 403], str(answers)

    @attack("scope")
    def scoped_lead_opens_a_call_outside_their_queue() -> tuple[bool, str]:
        other = target.elsewhere[0]
        answers = [lou.get(f"/calls/{other}{q}").status_code for q in ("", "?view=restricted")]
        return answers != [403, 403], str(answers)

    @attack("scope")
    def scoped_lead_reviews_a_call_outside_their_queue() -> tuple[bool, str]:
        token = _csrf(lou, f"/calls/{target.housing[0]}")
        answer = lou.post(
            f"/calls/{target.elsewhere[0]}/review", data={"csrf_token": token, "action": "save"}
        )
        return answer.status_code != 403, str(answer.status_code)

    @attack("scope")
    def scoped_lead_hears_a_call_outside_their_queue() -> tuple[bool, str]:
        src = _audio_src(lou, f"/calls/{target.housing[0]}")
        token = src.split("listen=")[-1]
        answer = lou.get(f"/calls/{target.elsewhere[0]}/audio?listen={token}")
        return answer.status_code in (200, 206), str(answer.status_code)

    @attack("scope")
    def scoped_lead_lists_other_queues() -> tuple[bool, str]:
        page = lou.get("/queue?status=all").text
        leaked = [c for c in target.elsewhere if c in page]
        return bool(leaked), f"{len(leaked)} calls of other queues listed"

    # Listening -----------------------------------------------------------------------------
    @attack("listen")
    def audio_without_a_listen_token() -> tuple[bool, str]:
        ranges = (None, "bytes=0-", "bytes=00-", "Bytes=0-", "bytes=0-1,5-9")
        answers = [
            lena.get(f"/calls/{audio_call}/audio", headers={"Range": r} if r else {}).status_code
            for r in ranges
        ]
        return any(a in (200, 206) for a in answers), str(answers)

    @attack("listen")
    def listen_token_replayed_by_another_lead() -> tuple[bool, str]:
        src = _audio_src(lena, f"/calls/{audio_call}")
        other = _signed_in(base, "lena")  # even the same person in another browser
        answers = [other.get(src).status_code, lou.get(src).status_code]
        return any(a in (200, 206) for a in answers), str(answers)

    @attack("listen")
    def listen_token_moved_to_another_call() -> tuple[bool, str]:
        src = _audio_src(lena, f"/calls/{target.elsewhere[0]}")
        token = src.split("listen=")[-1]
        answer = lena.get(f"/calls/{target.elsewhere[1]}/audio?listen={token}")
        return answer.status_code in (200, 206), str(answer.status_code)

    @attack("listen")
    def unaudited_listen_by_range_games() -> tuple[bool, str]:
        before = _audit_count(ada, "play_audio")
        for header in ("bytes=00-", "Bytes=0-", "bytes=0-1,5-9", "bytes=100-"):
            src = _audio_src(lena, f"/calls/{audio_call}")
            lena.get(src, headers={"Range": header})
            lena.get(src, headers={"Range": header})
        after = _audit_count(ada, "play_audio")
        return after - before != 4, f"4 listens, {after - before} audited"

    @attack("listen")
    def member_plays_pack_audio_without_a_token() -> tuple[bool, str]:
        answer = sam.get(f"/scrutiny/packs/{target.pack_id}/calls/1/audio")
        return answer.status_code in (200, 206), str(answer.status_code)

    # Paths ---------------------------------------------------------------------------------
    @attack("path")
    def traversal_in_the_call_id() -> tuple[bool, str]:
        answers = [
            lena.get(f"/calls/{p}/audio")
            for p in ("..%2F..%2Fetc%2Fpasswd", "%2E%2E", "C1%00", "%2Fetc%2Fpasswd")
        ]
        leaked = any(b"root:" in a.content or a.status_code == 200 for a in answers)
        return leaked, str([a.status_code for a in answers])

    @attack("path")
    def traversal_out_of_static() -> tuple[bool, str]:
        answers = [
            httpx.get(base + p)
            for p in (
                "/static/..%2Fsecurity.py",
                "/static/%2e%2e/security.py",
                "/static/..%2F..%2Fpipeline%2Fconfig.py",
            )
        ]
        leaked = any(b"import" in a.content for a in answers)
        return leaked, str([a.status_code for a in answers])

    @attack("path")
    def report_month_traversal() -> tuple[bool, str]:
        answers = [
            lena.get(f"/dashboard/{m}/report").status_code
            for m in ("..%2F.callqa", "..", "2025-03%2F..%2F..%2Frestricted")
        ]
        return any(a == 200 for a in answers), str(answers)

    @attack("path")
    def admin_registers_unredacted_folders_as_packs() -> tuple[bool, str]:
        token = _csrf(ada, "/admin/packs")
        folders = [
            str(b.out_dir / "restricted"),
            str(b.recordings_dir),
            "/",
            "../recordings",
            "../out/restricted",
            str(b.out_dir),
            str(b.packs_dir),
        ]
        answers = [
            ada.post(
                "/admin/packs", data={"csrf_token": token, "name": f"Evil {i}", "folder": f}
            ).status_code
            for i, f in enumerate(folders)
        ]
        return any(a != 400 for a in answers), str(answers)

    @attack("path")
    def open_redirect_after_sign_in() -> tuple[bool, str]:
        targets = ("//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil")
        locations = []
        for nxt in targets:
            client = _client(base)
            answer = _login(client, "lena", next=nxt)
            locations.append(answer.headers.get("location", ""))
        bad = [loc for loc in locations if "evil" in loc]
        return bool(bad), str(locations)

    # Header games --------------------------------------------------------------------------
    @attack("header")
    def forwarded_for_spoofing_to_dodge_throttling() -> tuple[bool, str]:
        client = _client(base)
        answers = [
            client.post(
                "/login",
                data={"csrf_token": _csrf(client), "name": "ghost-a", "password": "wrong"},
                headers={"X-Forwarded-For": f"10.9.8.{i}"},
            )
            for i in range(8)
        ]
        codes = [a.status_code for a in answers]
        return 429 not in codes, str(codes)

    @attack("header")
    def host_header_poisoning() -> tuple[bool, str]:
        client = _client(base)
        answer = client.get("/queue", headers={"Host": "evil.example"})
        location = answer.headers.get("location", "")
        return "evil" in location or "evil.example" in answer.text, location

    @attack("header")
    def forwarded_proto_does_not_fake_tls() -> tuple[bool, str]:
        answer = _client(base).get("/login", headers={"X-Forwarded-Proto": "https"})
        cookie = answer.headers.get("set-cookie", "")
        # Not an escalation by itself, but the app must decide TLS from its setting alone.
        return "__Host-" in cookie, cookie[:40]

    @attack("header")
    def many_ranges_in_one_request() -> tuple[bool, str]:
        src = _audio_src(lena, f"/calls/{audio_call}")
        header = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 4000, 2))
        answer = lena.get(src, headers={"Range": header})
        return answer.status_code >= 500 or len(answer.content) > 2_000_000, str(answer.status_code)

    @attack("header")
    def healthz_leaks_nothing() -> tuple[bool, str]:
        answer = httpx.get(base + "/healthz")
        return answer.text != "ok" or "set-cookie" in answer.headers, answer.text[:20]

    @attack("header")
    def security_headers_missing() -> tuple[bool, str]:
        headers = httpx.get(base + "/login").headers
        needed = ("content-security-policy", "x-frame-options", "x-content-type-options")
        missing = [h for h in needed if h not in headers]
        return bool(missing) or headers.get("cache-control") != "no-store", str(missing)

    @attack("header")
    def control_characters_in_the_user_name_and_path() -> tuple[bool, str]:
        client = _client(base)
        codes = [
            _login(client, name, "wrong").status_code
            for name in ("eve\x00", "eve\r\nlogin ok", "' OR 1=1 --")
        ]
        codes.append(lena.get("/calls/C1%00%0D%0Ax").status_code)
        return any(c >= 500 for c in codes), str(codes)

    # Passwords and sign-in -----------------------------------------------------------------
    @attack("password")
    def admin_sets_a_common_password() -> tuple[bool, str]:
        token = _csrf(ada, "/admin/users")
        answers = [
            ada.post(
                "/admin/users",
                data={"csrf_token": token, "name": f"weak{i}", "role": "scrutiny"}
                | {"password": p, "confirm": p},
            ).status_code
            for i, p in enumerate(("password1234", "Qwertyuiop123!", "123456789012", "short"))
        ]
        return any(a != 400 for a in answers), str(answers)

    @attack("password")
    def change_password_without_the_current_one() -> tuple[bool, str]:
        victim = _signed_in(base, "sid")
        token = _csrf(victim, "/account/password")
        new = "an attacker chosen passphrase"
        victim.post(
            "/account/password",
            data={"csrf_token": token, "current": "guess", "password": new, "confirm": new},
        )
        return _login(_client(base), "sid", new).status_code == 303, ""

    @attack("password")
    def disabled_user_signs_in() -> tuple[bool, str]:
        uid = _user_id(ada, "dan")
        token = _csrf(ada, "/admin/users")
        ada.post(f"/admin/users/{uid}", data={"csrf_token": token, "role": "quality_lead"})
        answer = _login(_client(base), "dan", "a fresh reset passphrase")
        return answer.status_code == 303, str(answer.status_code)

    @attack("password")
    def user_names_told_apart_by_the_answer() -> tuple[bool, str]:
        known = _login(_client(base), "lena", "not her password")
        unknown = _login(_client(base), "nobody-at-all", "not her password")
        same = known.status_code == unknown.status_code and (
            "not right" in known.text and "not right" in unknown.text
        )
        return not same, f"{known.status_code} / {unknown.status_code}"

    @attack("race")
    def parallel_guesses_beyond_the_allowance() -> tuple[bool, str]:
        codes: list[int] = []
        clients = [_client(base) for _ in range(15)]
        tokens = [_csrf(c) for c in clients]
        barrier = threading.Barrier(len(clients))

        def guess(client: httpx.Client, token: str) -> None:
            barrier.wait()
            answer = client.post(
                "/login", data={"csrf_token": token, "name": "ghost-b", "password": "nope"}
            )
            codes.append(answer.status_code)

        threads = [
            threading.Thread(target=guess, args=ct) for ct in zip(clients, tokens, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        checked = codes.count(400)
        return checked > 5, f"{checked} guesses checked of {len(codes)}"

    @attack("race")
    def guessing_again_before_the_wait_is_over() -> tuple[bool, str]:
        client = _client(base)

        def guess() -> httpx.Response:
            data = {"csrf_token": _csrf(client), "name": "ghost-b", "password": "nope"}
            return client.post("/login", data=data)

        # Retry-After is whole seconds rounded up, so a header of `wait` promises only more
        # than wait - 1 s: wait for one of at least 2 s, and judge each guess by when it left.
        refused = None
        for _ in range(10):
            answer = guess()
            if answer.status_code == 429:
                if int(answer.headers["retry-after"]) >= 2:
                    refused = answer
                    break
                time.sleep(int(answer.headers["retry-after"]))
        if refused is None:
            return True, "never told to wait 2 s or more"
        told = time.monotonic()
        wait = int(refused.headers["retry-after"])
        early = [(time.monotonic() - told, guess().status_code) for _ in range(3)]
        checked_early = any(code == 400 and sent < wait - 1 for sent, code in early)
        return checked_early, f"told to wait {wait} s, then {[code for _, code in early]}"

    @attack("audit")
    def refusals_go_unrecorded() -> tuple[bool, str]:
        before = _audit_count(ada, "refused")
        sid.get(f"/scrutiny/packs/{target.pack_id}/calls/2")
        after = _audit_count(ada, "refused")
        return after <= before, f"{before} -> {after}"

    return results


def _user_id(admin: httpx.Client, name: str) -> int | None:
    page = admin.get("/admin/users").text
    found = re.search(
        rf'<th scope="row">{re.escape(name)}<br>.*?action="/admin/users/(\d+)"', page, re.S
    )
    return int(found.group(1)) if found else None


def attack_app(work: Path, db_url: str | None = None) -> list[Attack]:
    """Build, serve and attack one app; the attacks' results."""
    built, db_url, pack_id = prepare(work, db_url)
    from review.data import OutputStore

    calls = OutputStore(built.out_dir, built.recordings_dir).calls().set_index("call_id")
    housing = [c for c in built.with_audio if calls.loc[c, "queue"] == "housing"]
    elsewhere = [c for c in built.with_audio if calls.loc[c, "queue"] != "housing"]
    with serve(built, db_url) as base:
        return run_attacks(Target(base, built, pack_id, housing, elsewhere))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database URL (default: SQLite)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "attacks.json")
    args = parser.parse_args()
    started = time.monotonic()
    results = attack_app(Path(tempfile.mkdtemp(prefix="callqa-attacks-")), args.db)
    worked = [r for r in results if r.succeeded]
    summary = {
        "benchmark": "attacks on a running review app",
        "command": "python benchmarks/attacks.py " + " ".join(sys.argv[1:]),
        "attacks": len(results),
        "kinds": sorted({r.kind for r in results}),
        "successes": len(worked),
        "seconds": round(time.monotonic() - started, 1),
        "results": [asdict(r) for r in results],
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    for r in results:
        print(f"{'WORKED' if r.succeeded else 'held  '}  {r.kind:8} {r.name}  {r.detail}")
    print(f"{len(results)} attacks, {len(worked)} succeeded")
    sys.exit(1 if worked else 0)


if __name__ == "__main__":
    main()
