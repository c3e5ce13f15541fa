"""Helpers the review tests share: users, signing in, an app over a built output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from builder import BuiltOutput
from fastapi import FastAPI
from fastapi.testclient import TestClient

__all__ = ["PASSWORD", "SECRET", "USERS", "Env", "csrf_of", "login", "make_env"]

PASSWORD = "correct horse battery staple"
USERS = {"ada": "admin", "lena": "quality_lead", "sam": "scrutiny", "sid": "scrutiny"}
SECRET = b"test-secret-key-of-enough-length-000"


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


def login(client: TestClient, name: str, password: str = PASSWORD):
    token = csrf_of(client)
    return client.post("/login", data={"csrf_token": token, "name": name, "password": password})


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One real argon2 hash of PASSWORD, made once: each hash costs about half a second."""
    from review.security import hash_password

    return hash_password(PASSWORD)


def make_env(built: BuiltOutput, db_url: str) -> Env:
    """The app (which runs the migrations), USERS, and the built pack granted to `sam`."""
    from review.app import create_app
    from review.db import User
    from review.users import create_pack, grant_pack

    app = create_app(built.out_dir, db_url, built.recordings_dir, secret_key=SECRET)
    with app.state.sessionmaker() as db:
        users = [
            User(name=n, role=r, password_hash=password_hash(), active=True)
            for n, r in USERS.items()
        ]
        db.add_all(users)
        pack = create_pack(
            db, app.state.store, "March panel", folder=built.pack_dir, created_by="ada"
        )
        db.commit()
        pack_id = pack.id
        ids = {u.name: u.id for u in users}
    grant_pack(db_url, "sam", "March panel")
    return Env(app=app, built=built, db_url=db_url, pack_id=pack_id, user_ids=ids)


def served_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves, static files aside."""
    from fastapi.routing import APIRoute

    from review import routes_admin, routes_common, routes_lead, routes_scrutiny

    return {
        (method, route.path)
        for module in (routes_common, routes_lead, routes_scrutiny, routes_admin)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
