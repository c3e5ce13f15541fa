"""Agents' spoken names in transcripts that scrutiny members read.

Councillors see agents only as "Agent A" or "Agent 1"; an agent who says "my name is Sam" in
the transcript beside that label undoes the pseudonym. Caller names are already `[PERSON_NAME]`
(pipeline/redact/); this finds the name after the phrases agents introduce themselves with
and replaces it with `[AGENT_NAME]`. It is deliberately a few fixed phrasings, applied to every
pack transcript line (scrutiny pages here and in the review app), because an agent's own name
is said the same few ways and a missed phrasing is found by reading the sample packs.

>>> redact_agent_names("Hello, my name is Sam, how can I help?")
'Hello, my name is [AGENT_NAME], how can I help?'
"""

from __future__ import annotations

import re

__all__ = ["AGENT_NAME", "redact_agent_names"]

AGENT_NAME = "[AGENT_NAME]"

#: Words that follow the phrases but are not names ("you're speaking to the council").
_NOT_NAMES = frozenset(
    [
        "a",
        "an",
        "the",
        "your",
        "you",
        "council",
        "and",
        "um",
        "uh",
        "er",
        "erm",
        "so",
        "just",
        "sorry",
        "from",
        "on",
        "at",
        "with",
        "in",
        "here",
        "there",
        "me",
        "him",
        "her",
        "them",
        "someone",
        "somebody",
        "customer",
        "customers",
        "services",
        "service",
        "team",
        "department",
        "calling",
        "now",
        "today",
        "not",
        "going",
        "afraid",
        "happy",
        "glad",
        "okay",
        "ok",
        "right",
        "well",
        "also",
        "still",
        "currently",
        "new",
        "one",
        "this",
        "that",
        "who",
        "what",
        "how",
        "is",
        "was",
        "be",
        "been",
        "being",
        "of",
        "for",
        "to",
        "it",
        "its",
        "it's",
        "i",
        "i'm",
        "we",
        "our",
        "us",
        "speaking",
    ]
)
_NAME = r"(?P<name>[A-Za-z][A-Za-z'\-]*)(?P<surname> [A-Z][A-Za-z'\-]*)?"
_CUES = (
    rf"\bmy name(?:'s| is) {_NAME}",
    rf"\b(?:you're|you are|youre) (?:speaking|talking) (?:to|with) {_NAME}",
    rf"\b(?:this is|it's|its|it is) {_NAME}(?= speaking\b| here\b)",
    r"(?:^|(?<=[.!?,] ))(?P<name2>[A-Z][A-Za-z'\-]*)(?= speaking\b)",
)


def _compile() -> list[re.Pattern[str]]:
    return [re.compile(c, re.IGNORECASE if i < 3 else 0) for i, c in enumerate(_CUES)]


_COMPILED = _compile()


def _replace(match: re.Match[str]) -> str:
    groups = match.groupdict()
    key = "name" if groups.get("name") is not None else "name2"
    name = groups[key]
    if name.lower() in _NOT_NAMES:
        return match.group(0)
    start, end = match.span(key) if key == "name2" else match.span("name")
    surname = groups.get("surname")
    if key == "name" and surname and surname.strip().lower() not in _NOT_NAMES:
        end = match.end("surname")
    whole_start = match.start(0)
    text = match.group(0)
    return text[: start - whole_start] + AGENT_NAME + text[end - whole_start :]


def redact_agent_names(text: str) -> str:
    """`text` with the name after each self-introduction phrase replaced by `[AGENT_NAME]`."""
    for pattern in _COMPILED:
        text = pattern.sub(_replace, text)
    return text
