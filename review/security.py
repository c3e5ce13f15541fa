"""Keys, passwords, client addresses, and the headers and cookies on every response.

- Keys: two random keys in the app's own state folder (`review_state_dir`), never in the output
  folder (shared with Dask workers): `session.key` signs the anonymous sign-in token,
  `pseudonym.key` derives agents' letters in scrutiny packs, so leaking one gives nothing of
  the other. A missing key is made atomically (temporary file, fsync, link into place, 0600);
  an empty, short or unreadable one stops the app with a one-line message.
- Passwords: argon2id, at most `HASH_SLOTS` hashes at once (each takes 64 MiB and a core), at
  least `MIN_PASSWORD_LENGTH` characters and not in the bundled common-passwords list.
- Sessions are rows of the database (review/sessions.py); the cookie carries only a random id.
  Before sign-in a signed random token (`<pre cookie>`) is the sign-in form's CSRF token.
- Behind TLS (`behind_tls`, or a request that arrived over HTTPS) cookies are `__Host-` and
  Secure and HSTS is sent. Browsers refuse a `__Host-` cookie without Secure, which plain HTTP
  cannot carry, so plain-HTTP (development) cookies keep their bare names.
- The client address is the peer's, or the last X-Forwarded-For hop that is not one of the
  configured `trusted_proxies` when the peer is one of them: a header from anyone else is
  ignored, so a client cannot choose the address the throttle and audit log see.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import ParamSpec, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.errors import CallQAError

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "HASH_SLOTS",
    "HASH_STATS",
    "KEY_FILES",
    "MIN_KEY_BYTES",
    "MIN_PASSWORD_LENGTH",
    "HashBusy",
    "Keys",
    "RequestState",
    "SecurityMiddleware",
    "check_csrf",
    "client_address",
    "cookie_name",
    "hash_password",
    "is_common_password",
    "load_keys",
    "needs_rehash",
    "parse_proxies",
    "password_problem",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 12
#: A key shorter than this (bytes, after stripping) is refused: a truncated or empty file.
MIN_KEY_BYTES = 32
KEY_FILES = {"session": "session.key", "pseudonym": "pseudonym.key"}
#: HSTS for a year, once the council has said the app is served over HTTPS.
_HSTS = b"max-age=31536000; includeSubDomains"

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


# -- keys --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    session: bytes = field(repr=False)
    pseudonym: bytes = field(repr=False)


def _make_key(path: Path) -> None:
    """Write a new key beside `path` and link it into place: a crash or a full disk leaves
    either no key (made again next start) or a whole one, never a short one; link() fails if
    another process made one first, and theirs is then used."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise CallQAError(f"cannot read the review key {path}: {exc.strerror}") from exc
    if len(key) < MIN_KEY_BYTES:
        raise CallQAError(
            f"the review key {path} is empty or too short ({len(key)} bytes, at least "
            f"{MIN_KEY_BYTES}): delete it to make a new one (everyone signs in again)"
        )
    return key


def load_keys(state_dir: Path, out_dir: Path | None = None) -> Keys:
    """The session and pseudonym keys from `state_dir`, made once (0600) when missing.

    Raises CallQAError (one line) when the folder is inside `out_dir` (shared with workers),
    cannot be made, or a key is empty, short or unreadable.
    """
    state_dir = Path(state_dir)
    if out_dir is not None:
        out = Path(out_dir).resolve()
        if state_dir.resolve() == out or state_dir.resolve().is_relative_to(out):
            raise CallQAError(
                f"review_state_dir {state_dir} is inside the output folder, which is shared "
                "with the workers: set CALLQA_REVIEW_STATE_DIR to a folder of the app's own"
            )
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CallQAError(
            f"cannot make the review state folder {state_dir}: {exc.strerror} "
            "(set CALLQA_REVIEW_STATE_DIR to a folder the app may write)"
        ) from exc
    found: dict[str, bytes] = {}
    for kind, name in KEY_FILES.items():
        path = state_dir / name
        if not path.exists():
            try:
                _make_key(path)
            except OSError as exc:
                raise CallQAError(f"cannot create the review key {path}: {exc.strerror}") from exc
        found[kind] = _read_key(path)
    if found["session"] == found["pseudonym"]:
        raise CallQAError(f"the two keys in {state_dir} are the same: delete one")
    return Keys(**found)


# -- passwords ---------------------------------------------------------------------------------

_hasher = PasswordHasher()
_P = ParamSpec("_P")
_T = TypeVar("_T")
#: Argon2 hashes allowed at once: each takes 64 MiB and a whole core for about half a second,
#: so unbounded parallel sign-ins would stall the server; the rest wait their turn.
HASH_SLOTS = max(1, (os.cpu_count() or 2) // 2)
_HASH_WAIT_S = 20.0
_slots = threading.BoundedSemaphore(HASH_SLOTS)


class HashBusy(CallQAError):
    """Every hashing slot stayed busy for `_HASH_WAIT_S`: the server is overloaded."""


@dataclass
class _HashStats:
    """How many hashes ran at once, at most, and in all (read by tests and the attack script)."""

    in_flight: int = 0
    max_in_flight: int = 0
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self.lock:
            self.max_in_flight = self.in_flight
            self.done = 0


HASH_STATS = _HashStats()


def _bounded(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """`fn(*args)` in one of the `HASH_SLOTS`; HashBusy when none frees up in time."""
    if not _slots.acquire(timeout=_HASH_WAIT_S):
        raise HashBusy("the server is busy checking passwords: try again in a minute")
    try:
        with HASH_STATS.lock:
            HASH_STATS.in_flight += 1
            HASH_STATS.max_in_flight = max(HASH_STATS.max_in_flight, HASH_STATS.in_flight)
        return fn(*args, **kwargs)
    finally:
        with HASH_STATS.lock:
            HASH_STATS.in_flight -= 1
            HASH_STATS.done += 1
        _slots.release()


def hash_password(password: str) -> str:
    return _bounded(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_password(password_hash: str, password: str) -> bool:
    return _bounded(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = resources.files("review").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def _core(password: str) -> str:
    """`Password123!` -> `password`: the word people decorate to meet a length rule."""
    return password.lower().strip().rstrip("0123456789!@#$%^&*?.,_-+= ").lstrip("0123456789")


def is_common_password(password: str) -> bool:
    """In the bundled list as typed, lower-cased, or once digits and symbols at its ends go;
    or one character repeated."""
    common = _common_passwords()
    lowered = password.lower().strip()
    return (
        lowered in common
        or _core(password) in common
        or lowered.replace(" ", "") in common
        or not _core(password)  # digits and symbols only
        or len(set(lowered)) <= 2
    )


def password_problem(password: str, user_name: str = "") -> str | None:
    """Why this password cannot be used, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Passwords must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > 1024:
        return "Passwords are limited to 1,024 characters."
    if is_common_password(password) or (
        user_name and user_name.lower() in password.lower() and len(user_name) >= 3
    ):
        return "That password is too common or too easy to guess: choose another."
    return None


# -- client address ----------------------------------------------------------------------------

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(proxies: Iterable[str]) -> tuple[_Network, ...]:
    """`["10.0.0.1", "192.168.0.0/24"]` as networks; raises CallQAError naming a bad one."""
    out = []
    for text in proxies:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise CallQAError(f"trusted_proxies: {text!r} is not an address or network") from exc
    return tuple(out)


def _trusted(address: str, proxies: Sequence[_Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(scope: Scope, proxies: Sequence[_Network]) -> str:
    """The address a request came from, believing X-Forwarded-For only from trusted proxies."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(h.strip() for h in value.decode("latin-1").split(","))
    # Walk back from our side: the first hop that is not one of our proxies is the client.
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled chain: believe only what we saw ourselves
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


# -- request state, cookies and headers --------------------------------------------------------


def cookie_name(base: str, secure: bool) -> str:
    return f"__Host-{base}" if secure else base


SESSION_COOKIE = "callqa_session"
PRE_COOKIE = "callqa_pre"


@dataclass
class RequestState:
    """What the middleware read from the request and what the routes ask it to send back."""

    secure: bool
    client: str
    session_id: str | None  # raw cookie value, checked against the database by sessions.py
    pre_token: str  # the anonymous CSRF token (valid, or freshly made)
    pre_is_new: bool
    new_session_id: str | None = None
    clear_session: bool = False
    csrf: str | None = None  # the signed-in session's CSRF token, once loaded


def _sign(key: bytes, token: str) -> str:
    return hmac.new(key, b"pre:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def check_csrf(expected: str | None, token: object) -> bool:
    return (
        expected is not None
        and isinstance(token, str)
        and hmac.compare_digest(token.encode(), expected.encode())
    )


def _cookies(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        if name != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, raw = part.strip().partition("=")
            found.setdefault(key, raw)  # the first of a name wins, as browsers order them
    return found


class SecurityMiddleware:
    """Pure ASGI: reads the cookies into `scope["callqa"]`, adds headers, sets cookies."""

    def __init__(
        self,
        app: ASGIApp,
        keys: Keys,
        *,
        behind_tls: bool = False,
        trusted_proxies: Sequence[_Network] = (),
        session_max_age_s: int = 8 * 3600,
    ) -> None:
        self.app = app
        self.key = keys.session
        self.behind_tls = behind_tls
        self.proxies = tuple(trusted_proxies)
        self.max_age = session_max_age_s

    def _state(self, scope: Scope) -> RequestState:
        secure = self.behind_tls or scope.get("scheme") == "https"
        cookies = _cookies(scope)
        session_id = cookies.get(cookie_name(SESSION_COOKIE, secure)) or None
        pre_raw = cookies.get(cookie_name(PRE_COOKIE, secure), "")
        token, _, sig = pre_raw.partition(".")
        if token and len(token) >= 32 and hmac.compare_digest(sig, _sign(self.key, token)):
            pre, new = token, False
        else:
            pre, new = secrets.token_urlsafe(32), True
        return RequestState(
            secure=secure,
            client=client_address(scope, self.proxies),
            session_id=session_id if session_id and len(session_id) <= 100 else None,
            pre_token=pre,
            pre_is_new=new,
        )

    def _cookie(self, state: RequestState, base: str, value: str, max_age: int) -> str:
        return (
            f"{cookie_name(base, state.secure)}={value}; Path=/; Max-Age={max_age}; HttpOnly; "
            "SameSite=Strict" + ("; Secure" if state.secure else "")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self._state(scope)
        scope["callqa"] = state
        quiet = scope["path"] == "/healthz" or scope["path"].startswith("/static/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in _HEADERS:
                    if key.decode() not in headers:
                        headers.raw.append((key, value))
                if state.secure:
                    headers.raw.append((b"strict-transport-security", _HSTS))
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if state.new_session_id:
                    headers.append(
                        "set-cookie",
                        self._cookie(state, SESSION_COOKIE, state.new_session_id, self.max_age),
                    )
                elif state.clear_session:
                    headers.append("set-cookie", self._cookie(state, SESSION_COOKIE, "", 0))
                if state.pre_is_new and not quiet:
                    value = f"{state.pre_token}.{_sign(self.key, state.pre_token)}"
                    headers.append("set-cookie", self._cookie(state, PRE_COOKIE, value, 86400))
            await send(message)

        await self.app(scope, receive, send_wrapper)
