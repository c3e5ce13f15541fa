"""The learned layer's tags: the model's calibrated probabilities for calls already through the
rules, turned into tags, with the rules' evidence where they agree and the model's otherwise.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.learned import CallView, Featuriser, TaggerModel
from pipeline.tagging.tags import FLAGS, REVIEWED_TAGS, UNCERTAIN_MARGIN, Evidence, QAChecks, Tags
from pipeline.tagging.views import rule_decisions
from pipeline.vocabulary import Vocabulary, load_vocabulary

__all__ = ["Verdict", "apply_model", "given_avoidable", "given_reasons", "given_vulnerability"]

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
            Verdict(
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
class Verdict:
    """One call's probabilities read against the model's thresholds."""

    probabilities: dict[str, float]
    model: TaggerModel
    by_rules: frozenset[str]  # the rules' tags, under the model's target names

    def given(self, tag: str) -> bool:
        """A tag the model was not trained on (no probability) is the rules' decision."""
        if tag in self.model.decided_by_rule or tag not in self.probabilities:
            return tag in self.by_rules
        return self.probabilities[tag] >= self.model.threshold[tag]

    def reaches(self, tags: Iterable[str], level_of: str) -> bool:
        """Whether any of `tags` has a probability at or above `level_of`'s threshold."""
        level = self.model.threshold.get(level_of)
        return level is not None and any(self.probabilities.get(t, -1.0) >= level for t in tags)

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


def given_reasons(
    verdict: Verdict, tag_vocabulary: Vocabulary, found: Collection[str] = ()
) -> list[str]:
    """The reasons, primary first, as the model decides them: a pack word said in passing
    ("my bin day" in a council tax call) is evidence, not a reason by itself. A council's
    new reason, which the model has no weights for, is the rules' decision.

    Once the model gives a reason, the primary is the reason likeliest by both models at once
    (the primary model's probability times the reason model's), from every reason they know:
    the matter the caller rang about may fall just short of the reason threshold while the
    primary model is sure of it (docs/evaluation.md, "Choosing the primary reason"). When the
    model gives no reason (a few words, "my bin was missed", are too little for it), the
    primary is the likeliest of the reasons the rules `found`."""
    reasons = [r for r in tag_vocabulary.reason_ids if verdict.given(f"contact_reasons:{r}")]
    # `other` beside a listed reason only when both models make it the primary (below): a scam
    # call in the council's name is `other`, the council tax account checked on it a second reason.
    if len(reasons) > 1 and "other" in reasons:
        reasons.remove("other")
    p = verdict.probabilities
    known = [
        r
        for r in tag_vocabulary.reason_ids
        if f"primary_reason:{r}" in p and f"contact_reasons:{r}" in p
    ]
    if set(reasons) & set(known):
        primary = max(known, key=lambda r: p[f"primary_reason:{r}"] * p[f"contact_reasons:{r}"])
    else:
        fallback = [r for r in tag_vocabulary.reason_ids if r in found and r != "other"]
        primary = (
            verdict.best("primary_reason", reasons or fallback or tag_vocabulary.reason_ids)
            or "other"
        )
    return [primary, *[r for r in reasons if r != primary]]


def given_avoidable(verdict: Verdict, tag_vocabulary: Vocabulary) -> tuple[bool, str | None]:
    """Whether the call is avoidable contact, and its likeliest category if so."""
    if not verdict.given("avoidable"):
        return False, None
    return True, verdict.best("avoidable_category", tag_vocabulary.category_ids)


def given_vulnerability(verdict: Verdict, tag_vocabulary: Vocabulary) -> tuple[list[str], bool]:
    """The vulnerability ids given, and whether the call is a safeguarding call.

    A call is raised as safeguarding at a far lower probability (the `safeguarding`
    threshold) than an id is listed: missing one costs far more than a quality lead's minute
    on a false alarm, while listing every id at that probability would bury the true ones. A
    call raised on probability alone lists its likeliest safeguarding id, so its page
    always says what to look for.
    """
    ids = [v for v in tag_vocabulary.vulnerability_ids if verdict.given(f"vulnerability:{v}")]
    guarding = sorted(tag_vocabulary.safeguarding_ids)
    if set(guarding) & set(ids):
        return ids, True
    if not (
        verdict.given("safeguarding")
        or verdict.reaches([f"vulnerability:{v}" for v in guarding], "safeguarding")
    ):
        return ids, False
    likeliest = verdict.best("vulnerability", guarding)
    return [v for v in tag_vocabulary.vulnerability_ids if v in ids or v == likeliest], True


def _decide(
    rules: Tags,
    view: CallView,
    embeddings: Any,
    verdict: Verdict,
    featuriser: Featuriser,
    tag_vocabulary: Vocabulary,
) -> Tags:
    """The call's tags from the model's probabilities; evidence from the rules where they agree."""
    reasons = given_reasons(verdict, tag_vocabulary, rules.contact_reasons)
    avoidable, category = given_avoidable(verdict, tag_vocabulary)
    vulnerability, safeguarding = given_vulnerability(verdict, tag_vocabulary)
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
        safeguarding=safeguarding,
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
