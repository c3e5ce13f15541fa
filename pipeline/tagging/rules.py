"""The rules' tags of one call, decided from its eligible hits and personal data, each tag with
the turn and words (redacted) that gave it.

Speaker-aware decisions (who said it, which of the agent's turns) are made here, after the
rulers, from the spans of every turn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pipeline.redact import PIISpan, redact_text
from pipeline.tagging.hits import Hit, eligible
from pipeline.tagging.packs import SIGNAL, RulePacks
from pipeline.tagging.tags import FLAGS, Evidence, QAChecks, RedactedTurn, Tags

__all__ = ["rule_tags"]


def rule_tags(
    hits: Sequence[Hit],
    pii: Sequence[PIISpan],
    speakers: Sequence[str],
    texts: Sequence[str],
    packs: RulePacks,
) -> Tags:
    """The tags the rule packs give one call (`hits`: its eligible hits, in order)."""
    reasons, reason_hits, greeting_hits = _reasons(hits, speakers)
    flag_hits = [h for h in hits if h.key in FLAGS]
    flags = {h.key for h in flag_hits}
    category_hits = _category_hits(hits, speakers, packs, reasons[0], greeting_hits, flags)
    found = {h.label for h in category_hits}
    category = next((c for c in packs.category_order if c in found), None)
    family_hits = [h for h in hits if h.key == "tags"]
    qa_hits = [h for h in hits if h.key == "qa"]
    qa_pii = _qa_pii_evidence(pii, speakers, packs)
    qa_found = {h.label for h in qa_hits} | {e.tag.removeprefix("qa:") for e in qa_pii}
    evidence = [
        *(_evidence(h, f"contact_reasons:{h.label}", pii) for h in reason_hits),
        *(_evidence(h, h.key, pii) for h in flag_hits),
        *(
            _evidence(h, f"avoidable_category:{h.label}", pii)
            for h in category_hits
            if h.label == category
        ),
        *(_evidence(h, f"tags:{h.label}", pii) for h in family_hits),
        *(_evidence(h, f"qa:{h.label}", pii) for h in qa_hits),
        *qa_pii,
    ]
    return Tags(
        contact_reasons=reasons,
        primary_reason=reasons[0],
        avoidable=category is not None,
        avoidable_category=category,
        complaint="complaint" in flags,
        transferred="transferred" in flags,
        qa=QAChecks.from_dict(
            {check: check in qa_found for check in packs.tag_vocabulary.check_ids}
        ),
        evidence=_once_each(evidence),
        pii=list(pii),
        redacted_turns=[
            RedactedTurn(speaker, redact_text(text, [p for p in pii if p.turn == turn]))
            for turn, (speaker, text) in enumerate(zip(speakers, texts, strict=True))
        ],
        tags=_families(family_hits, packs),
    )


def _reasons(
    hits: Sequence[Hit], speakers: Sequence[str]
) -> tuple[list[str], list[Hit], list[Hit]]:
    """The reasons, the hits that gave them, and the hits in the agent's greeting.

    What the caller asks about; failing that, what the agent takes up; failing that, the service
    the agent's greeting names (the queue the caller chose). The agent's side is a fallback
    because agents name other services in passing ("that's not parking").
    """
    agent_first = next((i for i, s in enumerate(speakers) if s == "agent"), None)
    reason_hits = [h for h in hits if h.key == "contact_reasons"]
    greeting_hits = [h for h in reason_hits if h.turn == agent_first]
    agent_hits = [h for h in reason_hits if speakers[h.turn] == "agent" and h.turn != agent_first]
    caller_hits = [h for h in reason_hits if speakers[h.turn] != "agent"]
    chosen = caller_hits or agent_hits or greeting_hits
    reasons = list(dict.fromkeys(h.label for h in chosen)) or ["other"]
    return reasons, chosen, greeting_hits


def _category_hits(
    hits: Sequence[Hit],
    speakers: Sequence[str],
    packs: RulePacks,
    primary: str,
    greeting_hits: Sequence[Hit],
    flags: set[str],
) -> list[Hit]:
    """Every hit for an avoidable category: its own words, signals together, a wrong team."""
    category_hits = [
        h for h in hits if h.key == "avoidable_category" and not h.label.startswith(SIGNAL)
    ]
    category_hits += _together_hits(hits, speakers, packs)
    # A call put through elsewhere after reaching a team (the greeting names it) that is not
    # the service the caller needed was routed wrongly, whatever the caller says.
    greeting_reasons = {h.label for h in greeting_hits}
    if greeting_reasons and primary not in greeting_reasons and "transferred" in flags:
        category_hits += [
            dataclasses.replace(h, key="avoidable_category", label=rule.id, rule="team_mismatch")
            for rule in packs.rules.values()
            if rule.team_mismatch
            for h in greeting_hits[:1]
        ]
    return category_hits


def _together_hits(hits: Sequence[Hit], speakers: Sequence[str], packs: RulePacks) -> list[Hit]:
    """Signals give a category only together ("I rang last week" + "it's still not sorted"),
    each found in a turn that category counts."""
    out = []
    for category_id, combos in packs.together.items():
        rule = packs.rules["avoidable_category", category_id]
        signal_hits = [
            h
            for h in hits
            if h.key == "avoidable_category"
            and h.label.startswith(SIGNAL)
            and eligible(rule, h.turn, speakers)
        ]
        found_signals = {h.label for h in signal_hits}
        for combo in combos:
            if set(combo) <= found_signals:
                out += [
                    dataclasses.replace(h, label=category_id, rule=f"together:{h.rule}")
                    for h in signal_hits
                    if h.label in combo
                ]
    return out


def _qa_pii_evidence(
    pii: Sequence[PIISpan], speakers: Sequence[str], packs: RulePacks
) -> list[Evidence]:
    """QA checks passed by asking for personal data (a rule's `pii_types`), as evidence."""
    return [
        Evidence(f"qa:{rule.id}", span.turn, f"[{span.type.upper()}]", f"pii:{span.type}")
        for rule in packs.rules.values()
        for span in pii
        if span.type in rule.pii_types and eligible(rule, span.turn, speakers, rule.pii_window)
    ]


def _families(family_hits: Sequence[Hit], packs: RulePacks) -> dict[str, list[str]]:
    """Family id -> the tag ids found, every family of the vocabulary present."""
    families: dict[str, list[str]] = {f.id: [] for f in packs.tag_vocabulary.families}
    for hit in family_hits:
        family, family_tag = hit.label.split(":", 1)
        if family_tag not in families[family]:
            families[family].append(family_tag)
    return families


def _evidence(hit: Hit, tag: str, pii: Sequence[PIISpan]) -> Evidence:
    """Evidence is shown to reviewers: personal data inside the words is redacted too."""
    inside = [
        (
            p.type,
            max(p.start, hit.start_char) - hit.start_char,
            min(p.end, hit.end_char) - hit.start_char,
        )
        for p in pii
        if p.turn == hit.turn and p.start < hit.end_char and hit.start_char < p.end
    ]
    return Evidence(tag, hit.turn, redact_text(hit.text, inside), hit.rule)


def _once_each(evidence: Sequence[Evidence]) -> list[Evidence]:
    """Overlapping patterns find the same words more than once; a reviewer needs them once."""
    unique: dict[tuple[str, int, str], Evidence] = {}
    for item in evidence:
        unique.setdefault((item.tag, item.turn, item.text), item)
    return sorted(unique.values(), key=lambda e: e.turn)
