"""The review web app for quality leads, scrutiny members and administrators.

Entry points (wired by callqa/cli.py):
    create_app(out_dir, db_url, recordings_dir, *, state_dir, packs_dir, behind_tls,
               trusted_proxies) -> FastAPI
    serve(out_dir, db_url, host, port, recordings_dir, ...)      `callqa review`
    users.add_user(db_url, name, role, password)                 `callqa users add`
    users.set_scope(db_url, name, scope)                         `callqa users scope`
    users.grant_pack(db_url, user_name, pack_name)
    export.agreement(out_dir, month=None) -> DataFrame            for the monthly report
    db.default_db_url(out_dir) -> str                             the SQLite URL under <out>
"""

from review.app import create_app, serve

__all__ = ["create_app", "serve"]
