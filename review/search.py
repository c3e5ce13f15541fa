"""Search the nightly transcripts for words and phrases, with DuckDB.

A query is words and "quoted phrases"; a turn is a hit when every one of them is in its text,
as whole words, whatever the case (`solicitor*` also finds "solicitors"). The redacted
`transcripts/` are searched, or `restricted/` (unredacted) when asked; hits are joined to
`scorecards/` for the queue, team, agent and tag filters and a quality lead's scope, newest
calls first.

Every value a person typed goes to DuckDB as a parameter: the SQL text is fixed but for which
conditions are present. The columns searched are copied from the Parquet into an in-memory
DuckDB (`TranscriptSearch`), which may read only the three table folders (external access off,
settings locked) and is kept in date order, so a date range skips most of it.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pipeline import store

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "SearchChoices",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "TranscriptSearch",
    "match_spans",
    "parse_terms",
    "term_pattern",
]

#: Longer queries are cut here (the audit log keeps the same length).
MAX_QUERY_CHARS = 200
#: Words and phrases after this many are ignored: each one is another regex over every turn.
MAX_TERMS = 8
_MAX_PAGE = 1_000_000
_TERM = re.compile(r'"([^"]*)"?|(\S+)')
# Characters special to both RE2 (DuckDB) and Python's re: escaped the same way for both.
_REGEX_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")
# Punctuation typed around a bare word ("ombudsman," or "(bailiff)") is not part of it.
_EDGE = re.compile(r"^[^\w*]+|[^\w*]+$")


@dataclass(frozen=True)
class SearchQuery:
    """What to look for and where; empty strings and None mean "any"."""

    text: str
    restricted: bool = False
    speaker: str = ""
    date_from: date | None = None
    date_to: date | None = None
    queue: str = ""
    team: str = ""
    agent: str = ""
    #: A flag, contact reason or avoidable-contact category id, as the queue filters use.
    tag: str = ""
    #: The quality lead's scope ("queue:x", "team:y"); empty = every call.
    scope: tuple[str, ...] = ()
    page: int = 1
    page_size: int = 25


@dataclass(frozen=True)
class SearchHit:
    """One turn that holds every term, with where they are in its text."""

    call_id: str
    call_date: str
    turn: int
    speaker: str
    start_s: float
    text: str
    queue: str | None
    team: str | None
    agent_id: str | None
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class SearchPage:
    """One page of hits, the number of hits in all, and the terms searched for."""

    hits: list[SearchHit]
    total: int
    page: int
    pages: int
    terms: tuple[str, ...]


@dataclass(frozen=True)
class SearchChoices:
    """What the search filters can choose from inside a scope: the ids found in scorecards."""

    queues: list[str]
    teams: list[str]
    agents: list[str]
    flags: list[str]
    reasons: list[str]
    categories: list[str]


def parse_terms(text: str) -> tuple[str, ...]:
    """The words and quoted phrases of a query, lower-cased, each once, at most MAX_TERMS.

    >>> parse_terms('Ombudsman "the  letter SAID" ombudsman, x*')
    ('ombudsman', 'the letter said', 'x*')
    """
    found: list[str] = []
    for phrase, word in _TERM.findall(text[:MAX_QUERY_CHARS]):
        term = " ".join(phrase.split()) if phrase else _EDGE.sub("", word)
        term = term.lower().rstrip("*") + ("*" if term.endswith("*") else "")
        if term.strip("*") and term not in found:
            found.append(term)
    return tuple(found[:MAX_TERMS])


def term_pattern(term: str) -> str:
    """The regex (RE2 and Python alike) that finds `term` (lower case, as `parse_terms` gives
    it) as whole words in lower-cased text: spaces in a phrase match any run of white space;
    a trailing `*` allows any ending."""
    prefix = term.endswith("*")
    words = term.rstrip("*").split()
    body = r"\s+".join(_REGEX_SPECIAL.sub(r"\\\1", w) for w in words)
    start = r"\b" if re.match(r"\w", words[0]) else ""
    end = r"\b" if not prefix and re.search(r"\w$", words[-1]) else ""
    return f"{start}{body}{end}"


def _needle(term: str) -> str:
    """The longest word of `term`: a turn without it cannot match, and finding a plain string
    costs a fraction of a regex, so it is looked for first."""
    return max(term.rstrip("*").split(), key=len)


def match_spans(text: str, terms: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Where each term is in `text`, in order, overlapping spans merged."""
    spans = sorted(
        m.span()
        for term in terms
        for m in re.finditer(term_pattern(term), text, re.IGNORECASE)
        if m.end() > m.start()
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


#: Each table as it is held in memory (its columns, and what fills them from the Parquet): only
#: the columns a search filters on or shows. `lowered` is the text in lower case, made once at
#: load: a search of it is twice as fast as a case-blind search of `text`.
_TURNS = (
    "call_id VARCHAR, call_date DATE, turn INTEGER, speaker VARCHAR, start_s DOUBLE, "
    "text VARCHAR, lowered VARCHAR",
    "call_id, call_date, turn, speaker, start_s, text, lower(text)",
)
_MEMORY_TABLES = {
    store.TRANSCRIPTS.name: _TURNS,
    store.RESTRICTED.name: _TURNS,
    store.SCORECARDS.name: (
        "call_id VARCHAR, call_date DATE, queue VARCHAR, team VARCHAR, agent_id VARCHAR, "
        "flags VARCHAR[], contact_reasons VARCHAR[], avoidable_category VARCHAR",
        "call_id, call_date, queue, team, agent_id, flags, contact_reasons, avoidable_category",
    ),
}
#: The one file of a night's partition, as `pipeline.store.write_partition` names it.
_FILE = "part-0.parquet"


def _partitions(folder: Path) -> dict[date, tuple[str, int, int]]:
    """Each night's Parquet file under a table folder, with its mtime and size."""
    found: dict[date, tuple[str, int, int]] = {}
    prefix = f"{store.PARTITION_KEY}="
    try:
        nights = [e for e in os.scandir(folder) if e.name.startswith(prefix)]
    except OSError:
        return found
    for night in nights:
        path = os.path.join(night.path, _FILE)
        try:
            day = date.fromisoformat(night.name[len(prefix) :])
            st = os.stat(path)
        except (ValueError, OSError):
            continue
        found[day] = (path, st.st_mtime_ns, st.st_size)
    return found


def _scope_condition(scope: tuple[str, ...], params: dict[str, Any]) -> str:
    """The SQL condition on scorecards `c` that keeps a lead's scope, its values put in
    `params`; a scope naming neither queues nor teams keeps no call (as `in_scope`)."""
    allowed = []
    for kind in ("queue", "team"):
        values = [v for k, _, v in (item.partition(":") for item in scope) if k == kind]
        if values:
            params[f"scope_{kind}"] = values
            allowed.append(f"list_contains($scope_{kind}, c.{kind})")
    return "(" + " OR ".join(allowed) + ")" if allowed else "false"


class TranscriptSearch:
    """Searches one output folder; one per app.

    A bare scan of a year's Parquet costs about what a whole search may take, so the columns a
    search needs are held in an in-memory DuckDB (about 270 MB of the process, DuckDB included,
    for a year of 600,000 turns; `restricted/`, 130 MB more, only once someone searches it). A
    night whose file changes (a re-run, an erasure) or goes (the retention purge) is reloaded
    or dropped by the first search after `refresh_s`. Each search runs on its own cursor, so
    searches run in parallel.
    """

    def __init__(self, out_dir: Path, *, refresh_s: float = 5.0) -> None:
        self.out_dir = Path(out_dir).resolve()
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._con: Any = None
        self._loaded: dict[str, dict[date, tuple[str, int, int]]] = {}
        self._checked: dict[str, float] = {}

    def _connection(self) -> Any:
        if self._con is None:
            import duckdb

            con = duckdb.connect(":memory:")
            for name, (columns, _source) in _MEMORY_TABLES.items():
                con.execute(f"CREATE TABLE {name} ({columns})")
            folders = ", ".join(f"'{_sql_text(self.out_dir / n)}/'" for n in _MEMORY_TABLES)
            # Never spilled to disk: the unredacted text must not land in a temporary file.
            con.execute("SET temp_directory = ''")
            con.execute(f"SET allowed_directories = [{folders}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            self._con = con
        return self._con

    def _cursor(self) -> Any:
        """A cursor of its own for one search, made while no refresh uses the connection."""
        with self._lock:
            return self._connection().cursor()

    def _refresh(self, name: str) -> None:
        """Bring table `name` in memory up to date with its folder (checked at most every
        `refresh_s`): changed nights reloaded, purged ones dropped, in one transaction."""
        with self._lock:
            con = self._connection()
            now = time.monotonic()
            if now - self._checked.get(name, -math.inf) < self.refresh_s:
                return
            found = _partitions(self.out_dir / name)
            loaded = self._loaded.get(name, {})
            stale = [d for d in loaded if found.get(d) != loaded[d]]
            fresh = [found[d][0] for d in found if loaded.get(d) != found[d]]
            if stale or fresh:
                source = _MEMORY_TABLES[name][1]
                con.execute("BEGIN TRANSACTION")
                try:
                    if stale:
                        con.execute(
                            f"DELETE FROM {name} WHERE list_contains($days, call_date)",
                            {"days": stale},
                        )
                    if fresh:
                        # Files in date order (DuckDB keeps it), so each row group's call_date
                        # range stays narrow and a date filter skips most of them; no ORDER BY,
                        # whose sort would cost a year's text in memory again at load.
                        con.execute(
                            f"INSERT INTO {name} SELECT {source} FROM read_parquet($files, "
                            "hive_partitioning = true, union_by_name = true, "
                            "hive_types = {'call_date': DATE})",
                            {"files": sorted(fresh)},
                        )
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                self._loaded[name] = found
            self._checked[name] = now

    def choices(self, scope: tuple[str, ...] = ()) -> SearchChoices:
        """The queues, teams, agents and tags of the calls inside `scope` (every call: ())."""
        self._refresh(store.SCORECARDS.name)
        params: dict[str, Any] = {}
        where = f"WHERE {_scope_condition(scope, params)}" if scope else ""
        sql = f"""
            SELECT list_sort(list_distinct(list(c.queue))), list_sort(list_distinct(list(c.team))),
                   list_sort(list_distinct(list(c.agent_id))),
                   list_sort(list_distinct(flatten(list(c.flags)))),
                   list_sort(list_distinct(flatten(list(c.contact_reasons)))),
                   list_sort(list_distinct(list(c.avoidable_category)))
            FROM {store.SCORECARDS.name} c {where}
        """
        cursor = self._cursor()
        try:
            row = cursor.execute(sql, params).fetchone()
        finally:
            cursor.close()
        return SearchChoices(*([str(v) for v in values or [] if v is not None] for values in row))

    def search(self, query: SearchQuery) -> SearchPage:
        """The page of hits `query` asks for (the last page when it asks past the end)."""
        terms = parse_terms(query.text)
        page_size = max(1, query.page_size)
        empty = SearchPage([], 0, 1, 1, terms)
        if not terms:
            return empty
        turns = store.RESTRICTED.name if query.restricted else store.TRANSCRIPTS.name
        self._refresh(turns)
        self._refresh(store.SCORECARDS.name)
        params: dict[str, Any] = {}
        where: list[str] = []
        for i, term in enumerate(terms):
            params[f"needle{i}"] = _needle(term)
            params[f"re{i}"] = term_pattern(term)
            where.append(f"contains(h.lowered, $needle{i}) AND regexp_matches(h.lowered, $re{i})")
        if query.speaker:
            params["speaker"] = query.speaker
            where.append("h.speaker = $speaker")
        for name, op, value in (
            ("date_from", ">=", query.date_from),
            ("date_to", "<=", query.date_to),
        ):
            if value is not None:
                params[name] = value
                where.append(f"h.call_date {op} ${name}")
        for column, value in (
            ("queue", query.queue),
            ("team", query.team),
            ("agent_id", query.agent),
        ):
            if value:
                params[column] = value
                where.append(f"c.{column} = ${column}")
        if query.tag:
            params["tag"] = query.tag
            where.append(
                "(list_contains(c.flags, $tag) OR list_contains(c.contact_reasons, $tag) "
                "OR c.avoidable_category = $tag)"
            )
        if query.scope:
            where.append(_scope_condition(query.scope, params))
        sql = f"""
            SELECT h.call_id, h.call_date, h.turn, h.speaker, h.start_s, h.text,
                   c.queue, c.team, c.agent_id, count(*) OVER () AS total
            FROM {turns} h
            JOIN {store.SCORECARDS.name} c ON c.call_id = h.call_id AND c.call_date = h.call_date
            WHERE {" AND ".join(where)}
            ORDER BY h.call_date DESC, h.call_id DESC, h.turn
            LIMIT $limit OFFSET $offset
        """
        # Cut first: DuckDB refuses an offset as big as a page number someone may type.
        page = max(1, min(query.page, _MAX_PAGE))
        cursor = self._cursor()
        try:
            rows = self._page(cursor, sql, params, page, page_size)
            if not rows and page > 1:
                # Past the end (a stale link): the last page instead.
                total = self._count(cursor, sql, params)
                page = max(1, math.ceil(total / page_size))
                rows = self._page(cursor, sql, params, page, page_size)
        finally:
            cursor.close()
        total = int(rows[0][-1]) if rows else 0
        hits = [
            SearchHit(
                call_id=str(r[0]),
                call_date=r[1].isoformat(),
                turn=int(r[2]),
                speaker=str(r[3]),
                start_s=float(r[4]),
                text=str(r[5]),
                queue=r[6],
                team=r[7],
                agent_id=r[8],
                spans=match_spans(str(r[5]), terms),
            )
            for r in rows
        ]
        return SearchPage(hits, total, page, max(1, math.ceil(total / page_size)), terms)

    @staticmethod
    def _page(cursor: Any, sql: str, params: dict[str, Any], page: int, size: int) -> list[Any]:
        return cursor.execute(
            sql, {**params, "limit": size, "offset": (page - 1) * size}
        ).fetchall()

    @staticmethod
    def _count(cursor: Any, sql: str, params: dict[str, Any]) -> int:
        row = cursor.execute(sql, {**params, "limit": 1, "offset": 0}).fetchone()
        return int(row[-1]) if row else 0
