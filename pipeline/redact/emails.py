"""E-mail addresses, written or spoken ("j dot smith at gmail dot com"), checked against
`tldextract`'s bundled suffix list (no network)."""

from __future__ import annotations

import tldextract

from pipeline.redact.candidates import SURE, Cand, cued
from pipeline.redact.rules import Rules
from pipeline.redact.tokens import Tok, Turn

__all__ = ["dotted_emails", "emails"]

_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
# The local part is read back from the "at" at most this many words.
_LOCAL_WORDS = 8


def emails(turn: Turn, rules: Rules) -> list[Cand]:
    """Written or spoken e-mail addresses: "j dot smith at gmail dot com"."""
    toks = turn.toks
    out: list[Cand] = []
    for k, tok in enumerate(toks):
        if not (tok.low == "@" or rules.email_words.get(tok.low) == "@"):
            continue
        last = _domain_end(toks, k, rules)
        if last is None:
            continue
        first = _local_start(toks, k, rules)
        if first is not None:
            out.append(Cand("EMAIL", toks[first].start, toks[last].end, SURE))
    return out


def _domain_end(toks: list[Tok], at: int, rules: Rules) -> int | None:
    """Last token of a domain with a known suffix after token `at` (part, dot, part ...)."""
    word_of = rules.email_words
    parts: list[str] = []
    last = -1
    expect_part = True
    for j in range(at + 1, len(toks)):
        low = toks[j].low
        if expect_part and low.isalnum():
            parts.append(low)
            last = j
            expect_part = False
        elif not expect_part and (low == "." or word_of.get(low) == "."):
            expect_part = True
        elif not expect_part and (low == "-" or word_of.get(low) == "-"):
            parts[-1] += "-"
            expect_part = True
        else:
            break
    if len(parts) < 2:
        return None
    extracted = _OFFLINE_TLD(".".join(parts).replace("-.", "-"))
    if not extracted.suffix or not extracted.domain:
        return None
    return last


def _local_start(toks: list[Tok], at: int, rules: Rules) -> int | None:
    """First token of the local part before token `at`, skipping dots, dashes, underscores."""
    word_of = rules.email_words
    first = None
    m = at - 1
    count = 0
    while m >= 0 and count < _LOCAL_WORDS:
        low = toks[m].low
        if low in (".", "_", "-") or word_of.get(low) in (".", "_", "-"):
            m -= 1
            continue
        spoken_number = low in rules.digits or low in rules.teens or low in rules.tens
        if low.isalnum() and (
            spoken_number or low not in rules.not_names | {"email", "mail"} or len(low) == 1
        ):
            first = m
            count += 1
            m -= 1
            continue
        break
    return first


def dotted_emails(turn: Turn, rules: Rules, taken: list[tuple[int, int]]) -> list[Cand]:
    """An address whose "at" was misheard: "Marcus .readedexamples .com" (marcus.reid at
    examples.com). A dotted name with a local part before the domain, after an e-mail cue.
    Not claimed before the codes: it only stands if its cue turns up."""
    toks = turn.toks
    out: list[Cand] = []
    k = 0
    while k < len(toks):
        parts = [k] if toks[k].low.isalnum() else []
        j = k + 1
        while parts and j + 1 < len(toks):
            sep, part = toks[j], toks[j + 1]
            glued = sep.low == "." and sep.end == part.start  # ".com", not "fail. H"
            if (glued or rules.email_words.get(sep.low) == ".") and part.low.isalnum():
                parts.append(j + 1)
                j += 2
            else:
                break
        if len(parts) < 3 or any(s <= toks[k].start < e for s, e in taken):
            k = j if parts else k + 1
            continue
        extracted = _OFFLINE_TLD(".".join(toks[p].low for p in parts))
        if extracted.suffix and extracted.domain and extracted.subdomain not in ("", "www"):
            cues = (("email", "EMAIL"),)
            out.append(cued(turn, rules, k, toks[k].start, toks[parts[-1]].end, cues))
        k = j
    return out
