"""The personal-data rule pack (models/pii.yaml) loaded into `Rules`: every word, phrase and
known mishearing the finders use, and the cue phrases found in a text."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from spacy.lang.en.stop_words import STOP_WORDS

from pipeline.errors import RulePackError
from pipeline.vocabulary import DEFAULT_MODELS_DIR

__all__ = ["DEFAULT_RULES", "TOKEN_RE", "Rules", "cue_kinds", "load_rules"]

DEFAULT_RULES = DEFAULT_MODELS_DIR / "pii.yaml"

# Turns and the pack's phrases are split into the same tokens, so phrases match joined turns.
TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*|[@.,/\-+()_&£$%:;?!]")


def _phrase_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """Whole-word alternation over the space-joined lower-case tokens of a turn."""
    parts = sorted({" ".join(TOKEN_RE.findall(p.lower())) for p in phrases if p.strip()}, key=len)
    body = "|".join(re.escape(p) for p in reversed(parts))
    return re.compile(rf"(?<!\S)(?:{body})(?!\S)")


@dataclass(frozen=True)
class Rules:
    """models/pii.yaml, checked and compiled."""

    path: Path
    digits: Mapping[str, str]
    teens: Mapping[str, str]
    tens: Mapping[str, str]
    repeaters: Mapping[str, int]
    ordinals: Mapping[str, int]
    months: Mapping[str, int]
    letter_names: Mapping[str, str]
    not_letters: frozenset[str]
    fillers: frozenset[str]
    email_words: Mapping[str, str]
    misheard_digits: Mapping[str, str]
    misheard_doubles: frozenset[str]
    non_personal_phone_prefixes: tuple[str, ...]
    cue_window: int
    fuzzy_score: int
    cue_phrases: Mapping[str, tuple[str, ...]]
    cue_res: Mapping[str, re.Pattern[str]]
    topic_cues: frozenset[str]
    topic_turns: int
    strong_name_cues: re.Pattern[str]
    weak_name_cues: re.Pattern[str]
    greeting_cues: re.Pattern[str]
    org_words: frozenset[str]
    name_after: frozenset[str]
    not_names: frozenset[str]
    first_names: frozenset[str]
    ambiguous_first_names: frozenset[str]
    street_suffixes: frozenset[str]
    dwelling_words: frozenset[str]
    address_cues: re.Pattern[str]


@functools.lru_cache(maxsize=4)
def load_rules(path: Path) -> Rules:
    """The rule pack at `path`, read once per process.

    Raises RulePackError when the file is missing, not YAML, or lacks a section.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise RulePackError(f"{path}: cannot read the personal-data rules: {err}") from None
    except yaml.YAMLError as err:
        raise RulePackError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise RulePackError(f"{path}: expected a mapping at the top level")

    def get(key: str, kind: type) -> Any:
        value = raw.get(key)
        if not isinstance(value, kind):
            raise RulePackError(f"{path}: `{key}` must be a {kind.__name__}")
        return value

    def words(key: str) -> frozenset[str]:
        return frozenset(str(w).lower() for w in get(key, list))

    def mapping(key: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in get(key, dict).items()}

    def numbers(key: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in get(key, dict).items()}

    cue_phrases = _cue_phrases(path, get("cues", dict))
    name_cues = get("name_cues", dict)
    for key in ("strong", "weak", "after", "greeting"):
        if not isinstance(name_cues.get(key), list):
            raise RulePackError(f"{path}: name_cues.{key} must be a list")
    ambiguous = words("ambiguous_first_names")
    return Rules(
        path=path,
        digits=mapping("digits"),
        teens=mapping("teens"),
        tens=mapping("tens"),
        repeaters=numbers("repeaters"),
        ordinals=numbers("ordinals"),
        months=numbers("months"),
        letter_names={k: v.upper() for k, v in mapping("letter_names").items()},
        not_letters=words("not_letters"),
        fillers=words("fillers"),
        email_words=mapping("email_words"),
        misheard_digits={k.lower(): v for k, v in mapping("misheard_digits").items()},
        misheard_doubles=words("misheard_doubles"),
        non_personal_phone_prefixes=tuple(str(p) for p in get("non_personal_phone_prefixes", list)),
        cue_window=int(get("cue_window_tokens", int)),
        fuzzy_score=int(get("fuzzy_cue_score", int)),
        cue_phrases=cue_phrases,
        cue_res={kind: _phrase_regex(p) for kind, p in cue_phrases.items()},
        topic_cues=words("topic_cues"),
        topic_turns=int(get("topic_turns", int)),
        strong_name_cues=_phrase_regex(name_cues["strong"]),
        weak_name_cues=_phrase_regex(name_cues["weak"]),
        greeting_cues=_phrase_regex(name_cues["greeting"]),
        org_words=words("org_words"),
        name_after=frozenset(str(w).lower() for w in name_cues["after"]),
        not_names=words("not_names") | frozenset(STOP_WORDS),
        first_names=words("first_names") - ambiguous,
        ambiguous_first_names=ambiguous,
        street_suffixes=words("street_suffixes"),
        dwelling_words=words("dwelling_words"),
        address_cues=_phrase_regex(get("address_cues", list)),
    )


def _cue_phrases(path: Path, cues: dict[Any, Any]) -> dict[str, tuple[str, ...]]:
    """Each cue kind's phrases with their known mishearings ("confusions")."""
    out: dict[str, tuple[str, ...]] = {}
    for kind, entry in cues.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("phrases"), list):
            raise RulePackError(f"{path}: cues.{kind} needs a `phrases` list")
        out[kind] = tuple(
            str(p).lower() for p in entry["phrases"] + list(entry.get("confusions") or [])
        )
    return out


@functools.lru_cache(maxsize=64)
def cue_kinds(text: str, rules_path: Path) -> frozenset[str]:
    """Cue kinds anywhere in a text (an earlier turn)."""
    rules = load_rules(rules_path)
    joined = " ".join(t.lower().replace("’", "'") for t in TOKEN_RE.findall(text))
    return frozenset(kind for kind, regex in rules.cue_res.items() if regex.search(joined))
