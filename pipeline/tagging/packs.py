"""The YAML rule packs of a models folder read into rules: one `Rule` per entry, with its
compiled patterns and the speakers and turns where it may fire.

`taxonomy.yaml` (contact reasons and the speech-recognition confusions), `avoidable.yaml` (the
NI14 categories and the signals that give one together), `qa_checks.yaml` (the agent's checks,
plus the `complaint` and `transferred` flags) and `flags.yaml` (a council's own flag families).
Which ids exist is `pipeline/vocabulary.py`'s to say; the phrases are read here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import RulePackError
from pipeline.redact import PII_TYPES
from pipeline.tagging.phrases import PhraseCompiler, canonical_pattern, singular
from pipeline.tagging.tags import FLAGS, SPEAKERS
from pipeline.vocabulary import Vocabulary, load_vocabulary, read_pack

__all__ = ["EXCLUDE", "RULERS", "SIGNAL", "Rule", "RulePacks", "read_packs"]

#: The rulers, in pipeline order: (spans_key, rule pack file).
RULERS = (
    ("contact_reasons", "taxonomy.yaml"),
    ("avoidable_category", "avoidable.yaml"),
    ("qa", "qa_checks.yaml"),
    ("complaint", "qa_checks.yaml"),
    ("transferred", "qa_checks.yaml"),
    ("tags", "flags.yaml"),
)
#: Pattern id prefix of an entry's `exclude` phrases: words that cancel its matches.
EXCLUDE = "exclude"
#: Span label prefix of avoidable.yaml's `signals`: evidence for a category only in combination.
SIGNAL = "signal:"


@dataclass(frozen=True)
class Rule:
    """One entry of a rule pack: an id, where it may fire, and its patterns."""

    key: str  # spans key = output field
    id: str
    speakers: frozenset[str]
    position: str  # any | start | end: which of the speaker's turns count
    window: int  # how many turns from the start or end
    patterns: tuple[tuple[str, list[dict[str, Any]]], ...]  # (pattern id, token pattern)
    pii_types: frozenset[str] = frozenset()  # also fires on these personal-data spans...
    pii_window: int = 1  # ...in this many of the speakers' first/last turns
    team_mismatch: bool = False  # also fires when a call is put through away from the wrong team


_Rules = dict[tuple[str, str], Rule]  # (spans key, id) -> rule


@dataclass(frozen=True)
class RulePacks:
    """Every rule of a models folder, and the settings the normaliser and decisions read."""

    rules: _Rules
    category_order: tuple[str, ...]  # avoidable categories, first wins
    # avoidable category -> combinations of signals (`signal:<name>` labels) that, found
    # together in the category's eligible turns, give the category
    together: dict[str, tuple[tuple[str, ...], ...]]
    vocabulary: frozenset[str]
    confusions: dict[str, str]
    fuzzy_min_length: int
    tag_vocabulary: Vocabulary  # the ids and labels the packs define


def _entries(
    path: Path, data: dict[str, Any], section: str, ids: Sequence[str]
) -> list[dict[str, Any]]:
    entries = data.get(section)
    if not isinstance(entries, list):
        raise RulePackError(f"{path}: `{section}` must be a list of entries with an `id`")
    seen: list[str] = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            raise RulePackError(f"{path}: {section}[{n}] must be a mapping with an `id`")
        if entry["id"] not in ids:
            raise RulePackError(
                f"{path}: unknown id {entry['id']!r} in `{section}`; known ids: {', '.join(ids)}"
            )
        if entry["id"] in seen:
            raise RulePackError(f"{path}: id {entry['id']!r} appears twice in `{section}`")
        seen.append(entry["id"])
    return entries


def _rule(
    path: Path,
    compiler: PhraseCompiler,
    key: str,
    entry: dict[str, Any],
    default_speakers: list[str],
) -> Rule:
    where = f"{path}: {entry['id']}"
    speakers = entry.get("speakers", default_speakers)
    if not isinstance(speakers, list) or not set(speakers) <= SPEAKERS or not speakers:
        raise RulePackError(f"{where}: `speakers` must be a list of {sorted(SPEAKERS)}")
    position = entry.get("position", "any")
    if position not in ("any", "start", "end"):
        raise RulePackError(f"{where}: `position` must be any, start or end, not {position!r}")
    window = entry.get("window", 2)
    if not isinstance(window, int) or window < 1:
        raise RulePackError(f"{where}: `window` must be a whole number of turns >= 1")
    patterns = []
    for kind in ("patterns", "confusions", EXCLUDE):
        phrases = entry.get(kind, [])
        if not isinstance(phrases, list):
            raise RulePackError(f"{where}: `{kind}` must be a list")
        for phrase in phrases:
            name = phrase if isinstance(phrase, str) else json.dumps(phrase)
            patterns.append((f"{kind}:{name}", compiler.compile(phrase, where)))
    pii_types = entry.get("pii_types", [])
    if not isinstance(pii_types, list) or not set(pii_types) <= set(PII_TYPES):
        raise RulePackError(f"{where}: `pii_types` must be a list of {', '.join(PII_TYPES)}")
    pii_window = entry.get("pii_window", 1)
    if not isinstance(pii_window, int) or pii_window < 1:
        raise RulePackError(f"{where}: `pii_window` must be a whole number of turns >= 1")
    team_mismatch = entry.get("team_mismatch", False)
    if not isinstance(team_mismatch, bool):
        raise RulePackError(f"{where}: `team_mismatch` must be true or false")
    return Rule(
        key,
        entry["id"],
        frozenset(speakers),
        position,
        window,
        tuple(patterns),
        frozenset(pii_types),
        pii_window,
        team_mismatch,
    )


def _read_taxonomy(
    path: Path, compiler: PhraseCompiler, vocabulary: Vocabulary
) -> tuple[_Rules, dict[str, str], int]:
    """The reason rules, and the speech-recognition confusions and fuzzy-match length."""
    taxonomy = read_pack(path)
    rules = {
        ("contact_reasons", entry["id"]): _rule(
            path, compiler, "contact_reasons", entry, ["caller", "agent"]
        )
        for entry in _entries(path, taxonomy, "reasons", vocabulary.reason_ids)
    }
    asr = taxonomy.get("speech_recognition", {})
    confusions = asr.get("confusions", {}) if isinstance(asr, dict) else None
    if not isinstance(confusions, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in confusions.items()
    ):
        raise RulePackError(
            f"{path}: `speech_recognition.confusions` must map heard -> meant words"
        )
    fuzzy_min_length = asr.get("fuzzy_min_length", 6)
    if not isinstance(fuzzy_min_length, int) or fuzzy_min_length < 4:
        raise RulePackError(
            f"{path}: `speech_recognition.fuzzy_min_length` must be a whole number >= 4"
        )
    return rules, {k.lower(): v.lower() for k, v in confusions.items()}, fuzzy_min_length


def _read_signals(path: Path, compiler: PhraseCompiler, signals: Any) -> _Rules:
    if not isinstance(signals, dict):
        raise RulePackError(f"{path}: `signals` must map a signal name to its `patterns`")
    rules: _Rules = {}
    for name, entry in signals.items():
        if not isinstance(entry, dict):
            raise RulePackError(f"{path}: signal {name!r} must be a mapping with `patterns`")
        # Signals fire in any turn; the category that combines them decides which turns count.
        phrases = {
            kind: entry[kind] for kind in ("patterns", "confusions", EXCLUDE) if kind in entry
        }
        rules["avoidable_category", f"{SIGNAL}{name}"] = _rule(
            path,
            compiler,
            "avoidable_category",
            {"id": f"{SIGNAL}{name}", **phrases},
            ["caller", "agent"],
        )
    return rules


def _read_avoidable(
    path: Path, compiler: PhraseCompiler, vocabulary: Vocabulary
) -> tuple[_Rules, tuple[str, ...], dict[str, tuple[tuple[str, ...], ...]]]:
    """The signal and category rules, the categories in order, and each one's signal combos."""
    avoidable = read_pack(path)
    signals = avoidable.get("signals", {})
    rules = _read_signals(path, compiler, signals)
    categories = _entries(path, avoidable, "categories", vocabulary.category_ids)
    together: dict[str, tuple[tuple[str, ...], ...]] = {}
    for entry in categories:
        combos = entry.get("together", [])
        if not isinstance(combos, list) or not all(
            isinstance(c, list) and len(c) >= 2 and all(n in signals for n in c) for c in combos
        ):
            raise RulePackError(
                f"{path}: {entry['id']}: `together` must be a list of lists of two or more "
                f"signal names from `signals` ({', '.join(signals) or 'none defined'})"
            )
        if combos:
            together[entry["id"]] = tuple(tuple(f"{SIGNAL}{n}" for n in c) for c in combos)
    for entry in categories:
        definition = entry.get("definition")
        if not isinstance(definition, str) or not definition.strip():
            raise RulePackError(
                f"{path}: {entry['id']}: every category needs a one-line `definition`"
            )
        rules["avoidable_category", entry["id"]] = _rule(
            path, compiler, "avoidable_category", entry, ["caller"]
        )
    return rules, tuple(e["id"] for e in categories), together


def _read_qa(path: Path, compiler: PhraseCompiler, vocabulary: Vocabulary) -> _Rules:
    """The agent's checks, and the two flags (each its own spans key)."""
    qa = read_pack(path)
    rules = {
        ("qa", entry["id"]): _rule(path, compiler, "qa", entry, ["agent"])
        for entry in _entries(path, qa, "checks", vocabulary.check_ids)
    }
    for entry in _entries(path, qa, "flags", FLAGS):
        rules[entry["id"], entry["id"]] = _rule(path, compiler, entry["id"], entry, ["caller"])
    return rules


def _read_families(path: Path, compiler: PhraseCompiler, vocabulary: Vocabulary) -> _Rules:
    """A family's tags: span label `<family>:<tag>`, any speaker's turns by default."""
    rules: _Rules = {}
    for family in vocabulary.families:
        for family_tag in family.tags:
            label = f"{family.id}:{family_tag.id}"
            rules["tags", label] = _rule(
                path,
                compiler,
                "tags",
                {**family_tag.model_dump(), "id": label},
                ["caller", "agent"],
            )
    return rules


def read_packs(models_dir: Path, tokenizer: Any) -> RulePacks:
    """Every rule pack of `models_dir`; RulePackError naming the file and entry that is wrong."""
    vocabulary = load_vocabulary(models_dir)
    compiler = PhraseCompiler(tokenizer)
    reasons, confusions, fuzzy_min_length = _read_taxonomy(
        models_dir / "taxonomy.yaml", compiler, vocabulary
    )
    avoidable, category_order, together = _read_avoidable(
        models_dir / "avoidable.yaml", compiler, vocabulary
    )
    rules = {
        **reasons,
        **avoidable,
        **_read_qa(models_dir / "qa_checks.yaml", compiler, vocabulary),
        **_read_families(models_dir / "flags.yaml", compiler, vocabulary),
    }
    # A plural written in a pattern ("bins") would hide its singular from the tokens that
    # reach it by lemma; patterns match the singular, which every inflection maps to.
    canonical = {w: singular(w, compiler.vocabulary) for w in compiler.vocabulary}
    rules = {
        key: dataclasses.replace(
            rule,
            patterns=tuple((pid, canonical_pattern(p, canonical)) for pid, p in rule.patterns),
        )
        for key, rule in rules.items()
    }
    return RulePacks(
        rules=rules,
        category_order=category_order,
        together=together,
        vocabulary=frozenset(canonical.values()),
        confusions=confusions,
        fuzzy_min_length=fuzzy_min_length,
        tag_vocabulary=vocabulary,
    )
