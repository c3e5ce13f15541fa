"""The learned layer's tags: the model's calibrated probabilities for calls already through the
rules, turned into tags, with the rules' evidence where they agree and the model's otherwise.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.learned import CallView, Featuriser, TaggerModel
from pipeline.tagging.tags import FLAGS, REVIEWED_TAGS, UNCERTAIN_MARGIN, Evidence, QAChecks, Tags
from pipeline.tagging.views import rule_decisions
from pipeline.vocabulary import Vocabulary, load_vocabulary

__all__ = ["apply_model"]

_WORD = re.compile(r"\w")


def apply_model(
    pairs: Sequence[tuple[Tags, CallView]],
    model: TaggerModel,
    featuriser: Featuriser,
    *,
    tag_vocabulary: Vocabulary | None = None,
) -> list[Tags]:
    """The learned layer's tags for calls already through the rules (`rule_views`).

    `tag_vocabulary` is the rules' (default: the shipped models/): a tag the model has no
    weights for (a council's new reason or check) is decided by the rules alone.
    """
    if not pairs:
        return []
    ids = load_vocabulary() if tag_vocabulary is None else tag_vocabulary
    views = [view for _, view in pairs]
    embeddings = featuriser.turn_embeddings(views)
    probabilities = model.calibrate(
        model.scores(featuriser.dense(views, embeddings), featuriser.sparse(views))
    )
    return [
        # A call with no words holds no evidence: the model's bias alone must not tag it.
        dataclasses.replace(tags, tagger_version=model.version)
        if not any(_WORD.search(text) for text in view.texts)
        else _decide(
            tags,
            view,
            emb,
            _Verdict(
                dict(zip(model.targets, row.tolist(), strict=True)),
                model,
                frozenset(rule_decisions(tags)),
            ),
            featuriser,
            ids,
        )
        for (tags, view), emb, row in zip(pairs, embeddings, probabilities, strict=True)
    ]


@dataclass(frozen=True)
class _Verdict:
    """One call's probabilities read against the model's thresholds."""

    probabilities: dict[str, float]
    model: TaggerModel
    by_rules: frozenset[str]  # the rules' tags, under the model's target names

    def given(self, tag: str) -> bool:
        """A tag the model was not trained on (no probability) is the rules' decision."""
        if tag in self.model.decided_by_rule or tag not in self.probabilities:
            return tag in self.by_rules
        return self.probabilities[tag] >= self.model.threshold[tag]

    def best(self, prefix: str, ids: Iterable[str]) -> str | None:
        scored = [(self.probabilities.get(f"{prefix}:{i}", -1.0), i) for i in ids]
        return max(scored)[1] if scored else None

    def uncertain(self, tags: Iterable[str]) -> list[str]:
        """The model-decided tags whose probability sits within the margin of the threshold."""
        return [
            tag
            for tag in tags
            if tag in self.probabilities
            and tag not in self.model.decided_by_rule
            and abs(self.probabilities[tag] - self.model.threshold[tag]) < UNCERTAIN_MARGIN
        ]


def _reasons(rules: Tags, verdict: _Verdict, tag_vocabulary: Vocabulary) -> list[str]:
    """The reasons, primary first. A reason the rules found stays (their evidence is the
    transparent part); the model adds the reasons said in words no pack lists."""
    found = set(rules.contact_reasons) - {"other"}
    reasons = [
        r for r in tag_vocabulary.reason_ids if r in found or verdict.given(f"contact_reasons:{r}")
    ]
    if len(reasons) > 1 and "other" in reasons:  # `other` only when no listed reason fits
        reasons.remove("other")
    primary = verdict.best("primary_reason", reasons or tag_vocabulary.reason_ids) or "other"
    return [primary, *[r for r in reasons if r != primary]]


def _decide(
    rules: Tags,
    view: CallView,
    embeddings: Any,
    verdict: _Verdict,
    featuriser: Featuriser,
    tag_vocabulary: Vocabulary,
) -> Tags:
    """The call's tags from the model's probabilities; evidence from the rules where they agree."""
    reasons = _reasons(rules, verdict, tag_vocabulary)
    avoidable = verdict.given("avoidable")
    category = (
        verdict.best("avoidable_category", tag_vocabulary.category_ids) if avoidable else None
    )
    vulnerability = [
        v for v in tag_vocabulary.vulnerability_ids if verdict.given(f"vulnerability:{v}")
    ]
    checks = {check: verdict.given(f"qa:{check}") for check in tag_vocabulary.check_ids}
    decided = {
        *[f"contact_reasons:{r}" for r in reasons],
        *([f"avoidable_category:{category}"] if category else []),
        *[flag for flag in FLAGS if verdict.given(flag)],
        *[f"qa:{check}" for check, passed in checks.items() if passed],
        *[f"vulnerability:{v}" for v in vulnerability],
        # The model knows no flag family: the rules' evidence stays with their tags.
        *[f"tags:{family}:{t}" for family, found in rules.tags.items() for t in found],
    }
    return dataclasses.replace(
        rules,
        contact_reasons=reasons,
        primary_reason=reasons[0],
        avoidable=avoidable,
        avoidable_category=category,
        complaint=verdict.given("complaint"),
        transferred=verdict.given("transferred"),
        qa=QAChecks.from_dict(checks),
        evidence=_evidence(rules, decided, view, embeddings, verdict.model, featuriser),
        vulnerability=vulnerability,
        safeguarding=bool(tag_vocabulary.safeguarding_ids & set(vulnerability))
        or verdict.given("safeguarding"),
        probabilities=verdict.probabilities,
        uncertain=verdict.uncertain((*REVIEWED_TAGS, f"primary_reason:{reasons[0]}")),
        tagger_version=verdict.model.version,
    )


def _evidence(
    rules: Tags,
    decided: set[str],
    view: CallView,
    embeddings: Any,
    model: TaggerModel,
    featuriser: Featuriser,
) -> list[Evidence]:
    """The rules' evidence of the tags given; a tag the model gives that no rule found gets
    the turn and words that raised its score most."""
    evidence = [e for e in rules.evidence if e.tag in decided]
    redacted = [t.text for t in rules.redacted_turns]
    missing = sorted(decided - {e.tag for e in evidence})
    grams = featuriser.turn_grams(view) if missing else []
    for tag in missing:
        target = "avoidable" if tag.startswith("avoidable_category:") else tag
        if target in model.row:
            found = featuriser.evidence(
                view, embeddings, grams, model.weights[model.row[target]], model.scale, redacted
            )
            if found is not None:
                evidence.append(Evidence(tag, found[0], found[1], f"model:{model.version}"))
    evidence.sort(key=lambda e: e.turn)
    return evidence
