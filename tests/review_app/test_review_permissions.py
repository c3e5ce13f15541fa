"""Every role against every route, from one table; a route missing from the table fails."""

from __future__ import annotations

import re

from review_helpers import PASSWORD, Env, csrf_of, served_routes

ROLES = ("anonymous", "ada", "lena", "sam", "sid")  # admin, quality lead, scrutiny x2
LOGIN = 303  # anonymous: sent to the sign-in page


def _table(env: Env) -> list[tuple[str, str, dict[str, str], dict[str, int]]]:
    """(method, path, form, expected status per user). Order matters: state-changing rows last."""
    b = env.built
    call = b.flagged[0]
    audio_call = b.with_audio[0]
    pack = env.pack_id
    in_pack = 1  # the pack's first call (pack-local numbers): it has silenced audio
    outside = next(c for c in b.call_ids if c not in b.pack_calls)
    lead = {"anonymous": LOGIN, "ada": 403, "lena": 200, "sam": 403, "sid": 403}
    member = {"anonymous": LOGIN, "ada": 403, "lena": 403, "sam": 200, "sid": 403}
    admin = {"anonymous": LOGIN, "ada": 200, "lena": 403, "sam": 403, "sid": 403}
    everyone = {"anonymous": LOGIN, "ada": 200, "lena": 200, "sam": 200, "sid": 200}
    posted = {"anonymous": LOGIN, "ada": 403, "lena": 403, "sam": 403, "sid": 403}
    sid = str(env.user_ids["sid"])
    return [
        ("GET", "/login", {}, {r: 200 for r in ROLES}),
        ("GET", "/healthz", {}, {r: 200 for r in ROLES}),
        ("GET", "/account/password", {}, everyone),
        ("GET", "/", {}, {**everyone, "ada": 303, "lena": 303, "sam": 303, "sid": 303}),
        ("GET", "/dashboard", {}, everyone),
        ("GET", "/trends", {}, everyone),
        ("GET", f"/dashboard/{b.month}/report", {}, everyone),
        ("GET", "/queue", {}, lead),
        ("GET", f"/calls/{call}", {}, lead),
        ("GET", f"/calls/{call}?view=restricted", {}, lead),
        # Audio needs the call page's listen token (checked with one below): never without.
        ("GET", f"/calls/{audio_call}/audio", {}, {**lead, "lena": 403}),
        ("GET", "/agents", {}, lead),
        ("GET", "/agents/A101", {}, lead),
        ("GET", "/search?q=complaint", {}, lead),
        ("GET", "/search?q=complaint&restricted=1", {}, lead),
        ("GET", "/reviews", {}, lead),
        # Downloads: the same roles as their pages.
        ("GET", "/queue?format=csv", {}, lead),
        ("GET", "/agents?format=xlsx", {}, lead),
        ("GET", "/agents/A101?format=csv", {}, lead),
        ("GET", "/reviews?format=xlsx", {}, lead),
        ("GET", "/estimates", {}, everyone),
        ("GET", f"/estimates?month={b.month}&format=csv", {}, everyone),
        ("GET", f"/dashboard?month={b.month}&format=xlsx", {}, everyone),
        ("GET", "/scrutiny", {}, {**member, "sid": 200}),
        ("GET", f"/scrutiny/packs/{pack}", {}, member),
        ("GET", f"/scrutiny/packs/{pack}/calls/{in_pack}", {}, member),
        ("GET", f"/scrutiny/packs/{pack}/calls/{in_pack}/audio", {}, {**member, "sam": 403}),
        ("GET", f"/scrutiny/packs/{pack}/calls/99", {}, {**member, "sam": 404}),
        ("GET", f"/scrutiny/packs/{pack}/calls/99/audio", {}, {**member, "sam": 404}),
        ("GET", f"/scrutiny/packs/{pack}/calls/{outside}", {}, {**member, "sam": 404}),
        ("GET", f"/scrutiny/packs/{pack + 99}", {}, {**member, "sam": 403}),
        ("GET", "/admin/users", {}, admin),
        ("GET", "/admin/packs", {}, admin),
        ("GET", "/admin/audit", {}, admin),
        (
            "POST",
            f"/calls/{call}/review",
            {"action": "save", "tag_complaint": "agree"},
            {**posted, "lena": 303},
        ),
        ("POST", f"/calls/{call}/assign", {"user_id": ""}, {**posted, "lena": 303}),
        (
            "POST",
            "/admin/users",
            {"name": "new{role}", "role": "scrutiny", "password": PASSWORD, "confirm": PASSWORD},
            {**posted, "ada": 303},
        ),
        (
            "POST",
            f"/admin/users/{sid}",
            {"role": "scrutiny", "active": "on"},
            {**posted, "ada": 303},
        ),
        (
            "POST",
            "/admin/packs",
            {"name": "Pack by {role}", "call_ids": f"{call}\n{outside}"},
            {**posted, "ada": 303},
        ),
        ("POST", f"/admin/packs/{pack}/grants", {"user_id": sid}, {**posted, "ada": 303}),
        ("POST", f"/admin/packs/{pack}/grants/{sid}/revoke", {}, {**posted, "ada": 303}),
        (
            "POST",
            "/account/password",
            {"current": "not my password", "password": "x" * 20, "confirm": "x" * 20},
            {**{r: 400 for r in ROLES}, "anonymous": LOGIN},
        ),
        (
            "POST",
            "/agents/A101/coaching",
            {"held_on": "2025-03-10", "discussed": "Coached by {role}"},
            {**posted, "lena": 303},
        ),
        # The entry lena just wrote (the first of a fresh database).
        ("POST", "/agents/A101/coaching/1/acknowledge", {}, {**posted, "lena": 303}),
        ("POST", "/logout", {}, {r: 303 for r in ROLES}),
    ]


def test_every_role_against_every_route(env: Env) -> None:
    table = _table(env)
    clients = {r: env.client(None if r == "anonymous" else r) for r in ROLES}
    tokens = {r: csrf_of(c, "/login") if r == "anonymous" else None for r, c in clients.items()}
    wrong: list[str] = []
    for method, path, form, expected in table:
        for role, client in clients.items():
            if method == "GET":
                response = client.get(path)
            else:
                token = tokens[role] or _token(client)
                data = {k: v.format(role=role) for k, v in form.items()}
                response = client.post(path, data={**data, "csrf_token": token})
            if response.status_code != expected[role]:
                wrong.append(f"{role} {method} {path}: {response.status_code} != {expected[role]}")
            if (
                expected[role] == LOGIN
                and role == "anonymous"
                and method == "GET"
                and path != "/login"
            ):
                assert response.headers["location"].startswith("/login?next=")
    assert not wrong, "\n".join(wrong)
    # With the page's listen token the lead and the member hear their audio.
    for role, page in (
        ("lena", f"/calls/{env.built.with_audio[0]}"),
        ("sam", f"/scrutiny/packs/{env.pack_id}/calls/1"),
    ):
        client = env.client(role)
        src = re.search(r'<audio[^>]*src="([^"]+)"', client.get(page).text)
        assert src and client.get(src.group(1).replace("&amp;", "&")).status_code == 200, role

    # Every route the app serves is in the table (static files and the sign-in POST aside).
    covered = {(m, _template(p)) for m, p, _, _ in table} | {("POST", "/login")}
    served = served_routes()
    assert len(served) > 20
    missing = {s for s in served if s not in {(m, t) for m, t in covered}}
    assert not missing, f"routes without a permission row: {sorted(missing)}"


def _token(client) -> str:
    # Any signed-in page carries the session's token in the sign-out form.
    return csrf_of(client, "/dashboard")


def _template(path: str) -> str:
    """Map a concrete path back to its route template for the coverage check."""
    path = path.split("?")[0]
    parts = path.strip("/").split("/")
    shapes = {
        ("dashboard", "*", "report"): "/dashboard/{month}/report",
        ("calls", "*"): "/calls/{call_id}",
        ("calls", "*", "audio"): "/calls/{call_id}/audio",
        ("calls", "*", "review"): "/calls/{call_id}/review",
        ("calls", "*", "assign"): "/calls/{call_id}/assign",
        ("agents", "*"): "/agents/{agent_id}",
        ("agents", "*", "coaching"): "/agents/{agent_id}/coaching",
        ("agents", "*", "coaching", "*", "acknowledge"): (
            "/agents/{agent_id}/coaching/{entry_id}/acknowledge"
        ),
        ("scrutiny", "packs", "*"): "/scrutiny/packs/{pack_id}",
        ("scrutiny", "packs", "*", "calls", "*"): "/scrutiny/packs/{pack_id}/calls/{number}",
        (
            "scrutiny",
            "packs",
            "*",
            "calls",
            "*",
            "audio",
        ): "/scrutiny/packs/{pack_id}/calls/{number}/audio",
        ("admin", "users", "*"): "/admin/users/{user_id}",
        ("admin", "packs", "*", "grants"): "/admin/packs/{pack_id}/grants",
        (
            "admin",
            "packs",
            "*",
            "grants",
            "*",
            "revoke",
        ): "/admin/packs/{pack_id}/grants/{user_id}/revoke",
    }
    for shape, template in shapes.items():
        if len(shape) == len(parts) and all(
            s in ("*", p) for s, p in zip(shape, parts, strict=True)
        ):
            return template
    return path


def test_scrutiny_member_never_sees_restricted_data(env: Env) -> None:
    sam = env.client("sam")
    b = env.built
    for number in range(1, len(b.pack_calls) + 1):
        page = sam.get(f"/scrutiny/packs/{env.pack_id}/calls/{number}")
        assert page.status_code == 200
        for secret in b.secrets:
            assert secret not in page.text
        assert "A101" not in page.text and "A102" not in page.text  # agents pseudonymised
        assert re.search(r"Answered by</dt><dd>Agent [A-Z]+", page.text)
        assert "[PERSON_NAME]" in page.text
    listing = sam.get(f"/scrutiny/packs/{env.pack_id}").text
    assert "Council Tax" in listing or "Bins, waste and recycling" in listing  # plain English
    for path in (
        "/queue",
        f"/calls/{b.pack_calls[0]}",
        f"/calls/{b.pack_calls[0]}?view=restricted",
        f"/calls/{b.with_audio[0]}/audio",
        "/admin/audit",
    ):
        assert sam.get(path).status_code == 403, path
