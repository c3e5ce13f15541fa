"""Passwords, signed session cookies, CSRF tokens and the security headers on every response.

- Passwords: argon2id (argon2-cffi defaults), rehashed on login when the parameters change.
- Session: an itsdangerous-signed cookie holding the user id and the CSRF token; HttpOnly,
  SameSite=Strict, Secure when served over HTTPS, 8 hours at most. The user and role are
  looked up again on every request, so disabling a user takes effect at once.
- CSRF: every form posts `csrf_token`, compared in constant time with the session's token;
  logging in issues a fresh session (and token) so a planted cookie is worthless.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECRET_KEY_FILE",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE_S",
    "SecurityMiddleware",
    "SessionData",
    "check_csrf",
    "hash_password",
    "load_secret_key",
    "needs_rehash",
    "verify_password",
]

SESSION_COOKIE = "callqa_session"
SESSION_MAX_AGE_S = 8 * 3600
#: Where a generated signing key is kept, relative to the output folder.
SECRET_KEY_FILE = Path(".callqa") / "review_secret.key"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def load_secret_key(out_dir: Path) -> bytes:
    """The cookie-signing key from `<out>/.callqa/review_secret.key`, made once (mode 0600)."""
    path = out_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key.encode()


@dataclass
class SessionData:
    """What the session cookie carries; `changed` makes the middleware send it again."""

    user_id: int | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    changed: bool = False

    def login(self, user_id: int) -> None:
        self.user_id = user_id
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def logout(self) -> None:
        self.user_id = None
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True


def check_csrf(session: SessionData, token: object) -> bool:
    return isinstance(token, str) and hmac.compare_digest(token.encode(), session.csrf.encode())


class SecurityMiddleware:
    """Pure ASGI: decodes the session into `scope["session_data"]`, adds headers, sets cookies."""

    def __init__(self, app: ASGIApp, secret_key: bytes) -> None:
        self.app = app
        self.serializer = URLSafeTimedSerializer(secret_key, salt="callqa-session")

    def _load(self, scope: Scope) -> SessionData:
        for name, value in scope.get("headers", ()):
            if name != b"cookie":
                continue
            for part in value.decode("latin-1").split(";"):
                key, _, raw = part.strip().partition("=")
                if key != SESSION_COOKIE:
                    continue
                try:
                    data = self.serializer.loads(raw, max_age=SESSION_MAX_AGE_S)
                    return SessionData(user_id=data.get("u"), csrf=str(data["c"]))
                except (BadSignature, KeyError, TypeError, AttributeError):
                    break
        return SessionData(changed=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = self._load(scope)
        scope["session_data"] = session
        secure = scope.get("scheme") == "https"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in _HEADERS:
                    if key.decode() not in headers:
                        headers.raw.append((key, value))
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if session.changed:
                    token = self.serializer.dumps({"u": session.user_id, "c": session.csrf})
                    cookie = (
                        f"{SESSION_COOKIE}={token}; Path=/; Max-Age={SESSION_MAX_AGE_S}; "
                        "HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
                    )
                    headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_wrapper)
