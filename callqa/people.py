"""The commands about people: review app users, and callers' rights over their data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from callqa.options import OutOpt, console, out, print_frame, settings_from
from pipeline.config import Settings, caller_hash_key
from pipeline.errors import CallQAError

if TYPE_CHECKING:
    from pipeline.rights import SubjectData
    from review.retention import ReviewHoldings

users_app = typer.Typer(help="Manage review web-app users.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="quality_lead, scrutiny or admin.")],
    out_dir: OutOpt = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: SQLite under --out).")
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            "--password",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="CALLQA_NEW_PASSWORD",
            help="Asked for when not given (at least 12 characters).",
        ),
    ] = "",
) -> None:
    """Add a user of the review web app."""
    settings = settings_from(out_dir=out_dir)
    from review.db import default_db_url
    from review.users import add_user

    add_user(db or default_db_url(settings.out_dir), name, role, password)
    out.print(f"Added {name} ({role}).", highlight=False)


@users_app.command("scope")
def users_scope(
    name: Annotated[str, typer.Argument(help="A quality lead's sign-in name.")],
    scope: Annotated[
        str,
        typer.Option(
            "--scope", help='Queues or teams they may open: "queue:housing,team:Blue"; "" = all.'
        ),
    ],
    out_dir: OutOpt = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: SQLite under --out).")
    ] = None,
) -> None:
    """Limit a quality lead to some queues or teams (their sessions end)."""
    settings = settings_from(out_dir=out_dir)
    from review.db import default_db_url
    from review.users import set_scope

    set_scope(db or default_db_url(settings.out_dir), name, scope)
    out.print(f"{name} may open: {scope or 'every call'}.", highlight=False)


def subject_access(
    number: Annotated[
        str,
        typer.Option(
            "--number",
            prompt="Caller's phone number",
            hide_input=True,
            envvar="CALLQA_SUBJECT_NUMBER",
            help="The caller's number, any UK format (asked for when not given, so it stays "
            "out of the shell history).",
        ),
    ],
    out_dir: OutOpt = None,
    erase: Annotated[
        bool, typer.Option("--erase", help="Remove the caller's personal data (keeps statistics).")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Review database URL [CALLQA_REVIEW_DB_URL] (default: SQLite "
            "under --out when there is one).",
        ),
    ] = None,
    packs: Annotated[
        list[Path] | None,
        typer.Option("--pack", help="A scrutiny pack folder to search too (repeatable)."),
    ] = None,
    reference: Annotated[
        str,
        typer.Option(
            "--reference", help="The request's case reference for the audit record (not a name)."
        ),
    ] = "",
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking first.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of tables.")] = False,
) -> None:
    """Find every call and output holding a caller's number (subject access); --erase removes it."""
    from pipeline.config import CALLER_HASH_KEY_FILE
    from pipeline.rights import caller_hash, find_subject
    from review.retention import audit_rights_request, review_db_for, review_holdings

    settings = settings_from(out_dir=out_dir)
    if settings.caller_hash_key is None and not (settings.out_dir / CALLER_HASH_KEY_FILE).exists():
        # caller_hash_key() would generate a new key, under which nobody is ever found.
        raise CallQAError(
            f"no caller-hash key: set CALLQA_CALLER_HASH_KEY or check --out (no "
            f"{settings.out_dir / CALLER_HASH_KEY_FILE})"
        )
    hashed = caller_hash(number, caller_hash_key(settings)[0])
    db_url = review_db_for(settings.out_dir, db or settings.review_db_url)
    found = find_subject(settings.out_dir, hashed, packs=list(packs or []))
    held = review_holdings(db_url, found.call_ids) if db_url and found.call_ids else None
    if held is not None and held.pack_calls:
        registered = sorted({Path(f) for _, _, f in held.pack_calls if f} - set(packs or []))
        found = find_subject(settings.out_dir, hashed, packs=[*(packs or []), *registered])
    _print_subject(found, held, as_csv)
    if db_url:
        audit_rights_request(
            db_url,
            "subject_access",
            reference,
            f"{len(found.call_ids)} calls, {len(found.holdings)} places",
        )
    if erase and not found.calls.empty:
        _erase(settings, found, db_url, reference, ask=not yes)


def _erase(
    settings: Settings, found: SubjectData, db_url: str | None, reference: str, *, ask: bool
) -> None:
    """Erase what `subject-access` found, audit it, and say what callqa cannot erase."""
    import uuid

    from pipeline.retention import Purged
    from pipeline.rights import erase_subject
    from review.retention import audit_rights_request, erase_review_notes

    if ask:
        typer.confirm(
            f"Erase the caller's personal data from {len(found.holdings)} places?", abort=True
        )
    notes = erase_review_notes(db_url, found.call_ids) if db_url else 0
    purged = erase_subject(
        settings.out_dir,
        found,
        today=dt.datetime.now(ZoneInfo(settings.timezone)).date(),
        run_id=f"erasure-{uuid.uuid4().hex[:12]}",
        reference=reference or None,
        also=[Purged("review_notes", rows=notes)] if db_url else [],
    )
    done = ", ".join(f"{p.what} {p.rows}" for p in purged if p.rows)
    if db_url:
        audit_rights_request(db_url, "subject_erasure", reference, f"rows changed: {done}")
    console.print(
        f"Erased ({done or 'nothing left to erase'}); logged in purges/.", highlight=False
    )
    for month in found.report_months:
        console.print(
            f"Run `callqa report --month {month}` again: its frequent callers still count them.",
            highlight=False,
        )
    console.print(
        "The phone system's call log and the original recordings are outside callqa: "
        "erase them there too, or a re-run of these nights brings the data back.",
        highlight=False,
    )


def _print_subject(found: SubjectData, held: ReviewHoldings | None, as_csv: bool) -> None:
    """The answer to a subject access request: the calls, then every place holding them."""
    import pandas as pd

    places = pd.DataFrame(
        [(h.place, h.call_id, h.call_date, h.rows, h.path) for h in found.holdings],
        columns=["place", "call_id", "call_date", "rows", "path"],
    )
    if held is not None:
        review = [
            ("review_db", "", None, held.reviews, f"reviews (notes on {held.reviews_with_notes})")
        ]
        review += [("review_audit", t, a.date(), 1, f"{u} {act}") for a, u, act, t in held.audit]
        places = pd.concat([places, pd.DataFrame(review, columns=places.columns)])
    if as_csv:
        print_frame(places, as_csv=True)
        return
    console.print(
        f"Calls from this number in the output: {len(found.calls)}"
        + (f", {int(found.calls['sampled'].sum())} of them screened." if len(found.calls) else "."),
        highlight=False,
    )
    print_frame(
        found.calls[["call_id", "call_date", "started_at", "queue", "sampled"]], title="Calls"
    )
    print_frame(places, title="Where they are")
