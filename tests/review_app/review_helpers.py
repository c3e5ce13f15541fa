"""Helpers the review tests share: users, signing in, an app over a built output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from builder import BuiltOutput
from fastapi import FastAPI
from fastapi.testclient import TestClient

__all__ = ["PASSWORD", "USERS", "Env", "app_options", "csrf_of", "login", "make_env"]

PASSWORD = "correct horse battery staple"
USERS = {"ada": "admin", "lena": "quality_lead", "sam": "scrutiny", "sid": "scrutiny"}


@dataclass
class Env:
    """An app over a built output, its users, and a pack granted to `sam` (not to `sid`)."""

    app: FastAPI
    built: BuiltOutput
    db_url: str
    pack_id: int
    user_ids: dict[str, int]

    def client(self, name: str | None = None) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        if name is not None:
            response = login(client, name)
            assert response.status_code == 303, response.text
        return client


def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD, **kwargs: Any):
    token = csrf_of(client)
    return client.post(
        "/login", data={"csrf_token": token, "name": name, "password": password}, **kwargs
    )


def app_options(built: BuiltOutput, **options: Any) -> dict[str, Any]:
    """create_app's keyword options for a built output: its own state folder (beside, never
    inside, the output folder) and packs root; `options` override."""
    return {
        "state_dir": built.out_dir.parent / "state",
        "packs_dir": built.packs_dir,
        **options,
    }


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One real argon2 hash of PASSWORD, made once: each hash costs about half a second."""
    from review.security import hash_password

    return hash_password(PASSWORD)


def make_env(built: BuiltOutput, db_url: str, **options: Any) -> Env:
    """The app (which runs the migrations), USERS, and the built pack granted to `sam`."""
    from review.app import create_app
    from review.db import User
    from review.users import create_pack, grant_pack

    app = create_app(built.out_dir, db_url, built.recordings_dir, **app_options(built, **options))
    with app.state.sessionmaker() as db:
        users = [
            User(name=n, role=r, password_hash=password_hash(), active=True)
            for n, r in USERS.items()
        ]
        db.add_all(users)
        pack = create_pack(
            db,
            app.state.store,
            "March panel",
            folder=built.pack_dir,
            created_by="ada",
            packs_dir=built.packs_dir,
        )
        db.commit()
        pack_id = pack.id
        ids = {u.name: u.id for u in users}
    grant_pack(db_url, "sam", "March panel")
    return Env(app=app, built=built, db_url=db_url, pack_id=pack_id, user_ids=ids)


def served_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves, static files aside."""
    from fastapi.routing import APIRoute

    from review import routes_admin, routes_common, routes_lead, routes_scrutiny, routes_search

    return {
        (method, route.path)
        for module in (routes_common, routes_lead, routes_search, routes_scrutiny, routes_admin)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
