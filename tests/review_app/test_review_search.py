"""Transcript search: `review.search` over a built output folder, the `/search` page on both
databases, and a quality lead searching in Chromium.

Expectations come from the Parquet the builder wrote, read back with pandas: which turns hold
a word (a plain regex per turn), and each call's queue, team, flags and reasons.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest
from browser_support import CHROMIUM, Live, browser, live, new_page, screenshot, sign_in
from builder import BuiltOutput, rewrite_night
from review_helpers import Env
from sqlalchemy import select

from pipeline import store
from review.search import SearchPage, SearchQuery, TranscriptSearch, parse_terms

__all__ = ["browser", "live"]


def _read(built: BuiltOutput, table: str) -> pd.DataFrame:
    df = pd.read_parquet(built.out_dir / table)
    df["call_date"] = df["call_date"].astype(str)
    return df


def _expected(built: BuiltOutput, *words: str, table: str = "transcripts") -> set[tuple[str, int]]:
    """(call_id, turn) of every turn holding every word, whole, in any case."""
    turns = _read(built, table)
    keep = turns["text"].map(
        lambda t: all(re.search(rf"\b{re.escape(w)}\b", t, re.IGNORECASE) for w in words)
    )
    return {(c, int(n)) for c, n in zip(turns[keep]["call_id"], turns[keep]["turn"], strict=True)}


def _everything(search: TranscriptSearch, **options: object) -> SearchPage:
    return search.search(SearchQuery(page_size=1000, **options))  # type: ignore[arg-type]


def _found(page: SearchPage) -> set[tuple[str, int]]:
    return {(h.call_id, h.turn) for h in page.hits}


def test_words_are_found_whole_in_any_case_and_newest_calls_come_first(built: BuiltOutput) -> None:
    search = TranscriptSearch(built.out_dir)
    leak = _expected(built, "leak")
    assert len(leak) >= 10
    for text in ("leak", "LEAK", "  Leak,  "):
        page = _everything(search, text=text)
        assert _found(page) == leak and page.total == len(leak), text
    page = _everything(search, text="leak")
    keys = [(h.call_date, h.call_id) for h in page.hits]
    assert keys == sorted(keys, reverse=True)
    assert all(re.search(r"(?i)\bleak\b", h.text) for h in page.hits)
    # Whole words: "ring" is in no turn ("rings", "ringing" are); `ring*` finds both.
    assert _everything(search, text="ring").total == 0
    assert _found(_everything(search, text="ring*")) == _expected(built, "rings") | _expected(
        built, "ringing"
    )
    # Every word in the same turn: "leak" and "complaint" are in different turns of a call.
    assert _expected(built, "leak", "complaint") == set()
    assert _everything(search, text="leak complaint").total == 0
    assert _found(_everything(search, text="kitchen leak")) == leak


def test_a_quoted_phrase_must_be_said_in_that_order(built: BuiltOutput) -> None:
    search = TranscriptSearch(built.out_dir)
    rings_back = _expected(built, "rings back")
    assert rings_back and _found(_everything(search, text='"rings back"')) == rings_back
    assert _found(_everything(search, text="back rings")) == rings_back
    assert _everything(search, text='"back rings"').total == 0
    assert parse_terms('Ombudsman "the  letter SAID" ombudsman, x*') == (
        "ombudsman",
        "the letter said",
        "x*",
    )
    # Typed SQL and LIKE wildcards are only text to look for.
    for text in ("'; DROP TABLE transcripts; --", "rings_back", "%", "r_ngs", '"', "*"):
        assert _everything(search, text=text).total == 0, text
    assert _everything(search, text="rings").total > 0


def test_filters_scope_and_pages(built: BuiltOutput) -> None:
    search = TranscriptSearch(built.out_dir)
    cards = _read(built, "scorecards").set_index("call_id")
    thanks = _expected(built, "thanks")
    assert len(thanks) >= 40

    def calls_where(keep) -> set[tuple[str, int]]:  # type: ignore[no-untyped-def]
        return {(c, t) for c, t in thanks if keep(cards.loc[c])}

    def nothing(_row: pd.Series) -> bool:
        return False

    cases = [
        ({"queue": "parking"}, lambda r: r["queue"] == "parking"),
        ({"team": "Blue"}, lambda r: r["team"] == "Blue"),
        ({"agent": "A305"}, lambda r: r["agent_id"] == "A305"),
        ({"tag": "complaint"}, lambda r: "complaint" in list(r["flags"])),
        ({"tag": "online_account"}, lambda r: "online_account" in list(r["contact_reasons"])),
        ({"tag": "progress_chasing"}, lambda r: r["avoidable_category"] == "progress_chasing"),
        (
            {"date_from": date.fromisoformat(built.dates[1])},
            lambda r: r["call_date"] >= built.dates[1],
        ),
        (
            {"date_to": date.fromisoformat(built.dates[0])},
            lambda r: r["call_date"] == built.dates[0],
        ),
        ({"scope": ("queue:housing",)}, lambda r: r["queue"] == "housing"),
        (
            {"scope": ("team:Red", "queue:waste")},
            lambda r: r["team"] == "Red" or r["queue"] == "waste",
        ),
        ({"scope": ("agent:A101",)}, nothing),  # neither a queue nor a team: no call
        ({"queue": "housing", "scope": ("queue:parking",)}, nothing),
    ]
    for options, keep in cases:
        expected = calls_where(keep)
        assert _found(_everything(search, text="thanks", **options)) == expected, options
        assert bool(expected) == (keep is not nothing), options
    # The filters offer what is inside the scope.
    red = search.choices(("team:Red",))
    assert red.teams == ["Red"] and red.agents == sorted(
        set(cards.query("team == 'Red'")["agent_id"])
    )
    every = search.choices()
    assert every.queues == sorted(set(cards["queue"])) and "complaint" in every.flags
    assert "online_account" in every.reasons and every.categories == sorted(
        set(cards["avoidable_category"].dropna())
    )
    assert search.choices(("agent:A101",)).queues == []
    # Who said it: "help" is the agent's word in these calls.
    assert _everything(search, text="help", speaker="caller").total == 0
    assert _found(_everything(search, text="help", speaker="agent")) == _expected(built, "help")

    pages = [search.search(SearchQuery("thanks", page=n, page_size=25)) for n in (1, 2, 99, 10**20)]
    assert [p.page for p in pages] == [1, 2, 2, 2] and pages[0].pages == 2
    assert len(pages[0].hits) == 25 and len(pages[1].hits) == len(thanks) - 25
    assert _found(pages[0]) | _found(pages[1]) == thanks
    assert _found(pages[1]) == _found(pages[2])


def test_secrets_are_found_only_in_the_restricted_text(built: BuiltOutput) -> None:
    search = TranscriptSearch(built.out_dir)
    for secret in sorted(set(built.secrets)):
        quoted = f'"{secret}"'
        assert _everything(search, text=quoted).total == 0, secret
        assert _everything(search, text=secret).total == 0, secret
        unredacted = _everything(search, text=quoted, restricted=True)
        expected = _expected(built, secret, table="restricted")
        assert expected and _found(unredacted) == expected, secret
        assert all(secret in h.text for h in unredacted.hits)
    assert _everything(search, text="person_name").total > 0  # the redacted mark is there


def test_a_rewritten_or_purged_night_is_searched_as_it_now_is(built: BuiltOutput) -> None:
    """An erasure rewrites a night without a call's turns; the retention purge removes one."""
    search = TranscriptSearch(built.out_dir, refresh_s=0)
    before = _found(_everything(search, text="leak"))
    gone = sorted(before)[0][0]
    day = date(int(gone[1:5]), int(gone[5:7]), int(gone[7:9]))
    rewrite_night(built.out_dir, store.TRANSCRIPTS, day, lambda rows: rows[rows["call_id"] != gone])
    night = built.out_dir / "transcripts" / f"call_date={day}"
    after = _found(_everything(search, text="leak"))
    assert after == {h for h in before if h[0] != gone} and after != before
    for part in night.glob("*.parquet"):
        part.unlink()
    assert not any(c[1:9] == gone[1:9] for c, _ in _found(_everything(search, text="leak")))


def test_a_long_turn_is_shown_around_its_first_match() -> None:
    from review.routes_search import CONTEXT_CHARS, snippet
    from review.search import SearchHit, match_spans

    text = "I rang before. " * 30 + "The letter said the Ombudsman would write. " + "Okay. " * 40
    terms = parse_terms('ombudsman "the letter said"')
    hit = SearchHit(
        "C1", "2025-03-03", 4, "caller", 1.0, text, None, None, None, match_spans(text, terms)
    )
    segments = snippet(hit)
    shown = "".join(s.text for s in segments)
    assert segments[0].text == "…" and segments[-1].text == "…"
    assert [s.text for s in segments if s.marked] == ["The letter said", "Ombudsman"]
    assert len(shown) <= CONTEXT_CHARS + 2 and shown[1:-1] in text
    assert shown[1] != " " and text[text.index(shown[1:-1]) - 1] == " "  # cut at a space
    short = SearchHit(
        "C1", "2025-03-03", 0, "agent", 0.0, "Ombudsman.", None, None, None, ((0, 9),)
    )
    assert [(s.text, s.marked) for s in snippet(short)] == [("Ombudsman", True), (".", False)]


def test_searches_in_parallel_threads_answer_as_one_at_a_time(built: BuiltOutput) -> None:
    from concurrent.futures import ThreadPoolExecutor

    search = TranscriptSearch(built.out_dir, refresh_s=0)  # every search checks the folders
    texts = ["leak", "thanks", '"rings back"', "help", "nobody"] * 4
    alone = {t: _found(_everything(search, text=t)) for t in set(texts)}
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: _found(_everything(search, text=t)), texts))
    assert together == [alone[t] for t in texts]


# -- the page ------------------------------------------------------------------------------------


def _audit(env: Env) -> list[tuple[str, str, str, str]]:
    from review.db import AuditEntry

    with env.app.state.sessionmaker() as db:
        rows = db.execute(
            select(AuditEntry.user_name, AuditEntry.action, AuditEntry.target, AuditEntry.detail)
            .where(AuditEntry.action.like("search%"))
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(r) for r in rows]


def _results(html: str) -> str:
    """The hits part of a search page (the form above echoes the query)."""
    return html.split('id="results-heading"', 1)[1]


def test_the_search_page_marks_hits_links_calls_and_is_audited(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    page = lena.get("/search", params={"q": "NOBODY", "queue": "housing"})
    assert page.status_code == 200
    results = _results(page.text)
    assert "<mark>nobody</mark>" in results
    in_housing = set(_read(b, "scorecards").query("queue == 'housing'")["call_id"])
    housing = {(c, t) for c, t in _expected(b, "nobody") if c in in_housing}
    linked = re.findall(r'href="/calls/([^"#?]+)#turn-(\d+)"', results)
    assert {(c, int(t)) for c, t in linked} == housing
    assert f"{len(housing)} turns found" in results
    # The link opens the call.
    assert lena.get(f"/calls/{linked[0][0]}").status_code == 200

    secret = b.secrets[0]
    redacted = lena.get("/search", params={"q": f'"{secret}"'})
    assert "0 turns found" in redacted.text and secret not in _results(redacted.text)
    unredacted = lena.get("/search", params={"q": f'"{secret}"', "restricted": "1"})
    assert f"<mark>{secret}</mark>".replace("'", "&#39;") in unredacted.text
    assert re.search(r'href="/calls/[^"?]+\?view=restricted#turn-\d+"', unredacted.text)

    long = "solicitor " * 60
    assert (
        lena.get("/search", params={"q": long, "from": b.dates[0], "speaker": "caller"}).status_code
        == 200
    )
    audited = _audit(env)
    assert audited[0][:3] == ("lena", "search", "NOBODY") and "queue=housing" in audited[0][3]
    assert audited[1][:3] == ("lena", "search", f'"{secret}"')
    assert audited[2][:3] == ("lena", "search_restricted", f'"{secret}"')
    assert audited[3][1] == "search" and len(audited[3][2]) == 200
    assert f"from={b.dates[0]}" in audited[3][3] and "speaker=caller" in audited[3][3]

    # Bad values are refused, not searched.
    assert lena.get("/search", params={"q": "x", "from": "03/03/2025"}).status_code == 400
    assert lena.get("/search", params={"q": "x", "speaker": "councillor"}).status_code == 400
    # The search box is in every lead's page header, and in nobody else's.
    assert 'action="/search"' in lena.get("/queue").text
    assert 'action="/search"' not in env.client("sam").get("/scrutiny").text


def test_only_quality_leads_search_and_only_inside_their_scope(env: Env) -> None:
    from review.users import set_scope

    for name in ("ada", "sam"):
        for params in ({"q": "nobody"}, {"q": "nobody", "restricted": "1"}):
            assert env.client(name).get("/search", params=params).status_code == 403
    anonymous = env.client().get("/search", params={"q": "nobody"})
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=/search")

    set_scope(env.db_url, "lena", ["team:Red"])
    lena = env.client("lena")
    form = lena.get("/search").text
    assert '<option value="Red">' in form and '<option value="Blue">' not in form
    cards = _read(env.built, "scorecards").set_index("call_id")
    for params in (
        {"q": "nobody"},
        {"q": "nobody", "restricted": "1"},
        {"q": "nobody", "team": "Blue"},
    ):
        linked = set(
            re.findall(r'href="/calls/([^"#?]+)', _results(lena.get("/search", params=params).text))
        )
        assert all(cards.loc[c, "team"] == "Red" for c in linked), params
        assert bool(linked) == ("team" not in params), params


# -- in the browser ------------------------------------------------------------------------------


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed")
@pytest.mark.parametrize("live", ["sqlite"], indirect=True)  # the page does not touch the DB
def test_a_lead_searches_from_the_header_and_opens_the_call(browser, live: Live) -> None:
    page = new_page(browser, live)
    sign_in(page, "lena")
    page.goto("/queue")
    box = page.get_by_role("searchbox", name="Search transcripts")
    box.fill('"rings back"')
    box.press("Enter")
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Search transcripts").is_visible()
    assert page.get_by_label("Words or phrases").input_value() == '"rings back"'
    page.get_by_label("Queue", exact=True).select_option("housing")
    page.locator("main").get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    first = page.locator(".hit").first
    assert first.locator("mark").first.inner_text() == "rings back"
    screenshot(page, live, "search")
    call_id = first.locator("a.hit__link").inner_text().removeprefix("Call ")
    first.locator("a.hit__link").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/calls/{call_id}#turn-5")
    assert page.get_by_role("heading", name=f"Call {call_id}").is_visible()
    assert page.csp_errors == []
