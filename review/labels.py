"""Plain-English words for the machine's tag ids, for people who do not read column names.

The ids and labels of reasons, avoidable categories, QA checks, vulnerabilities and a
council's own flag families come from the models folder's YAML (`pipeline.vocabulary`): the
folder in `CALLQA_MODELS_DIR` (the `models_dir` setting, read from the environment because
labels are looked up in templates, far from any request), else the shipped models/. The
mappings below read it on each look-up (it is loaded once per folder), so a council's new id
is named by its label with no code change. An id no table knows is shown tidied
(`new_reason` -> "New reason") rather than hidden.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping

from pipeline.vocabulary import DESIGN_IDS, Tag, Vocabulary, load_vocabulary

__all__ = [
    "AVOIDABLE_CATEGORIES",
    "BOOLEAN_TAGS",
    "CONTACT_REASONS",
    "FAMILY_TAGS",
    "FLAGS",
    "QA_CHECKS",
    "REVIEW_TAGS",
    "SAFEGUARDING_ACTIONS",
    "VULNERABILITIES",
    "describe_tag",
    "flag_label",
    "label",
    "queue_reasons",
    "tag_label",
    "vocabulary",
]


def vocabulary() -> Vocabulary:
    """The vocabulary of the models folder the app runs with (`CALLQA_MODELS_DIR`)."""
    return load_vocabulary(os.environ.get("CALLQA_MODELS_DIR") or None)


class _Labels(Mapping[str, str]):
    """Id -> label of one tag family of the current vocabulary, in the YAML's order."""

    def __init__(self, tags: Callable[[Vocabulary], Iterable[tuple[str, str]]]) -> None:
        self._tags = tags

    def _table(self) -> dict[str, str]:
        return dict(self._tags(vocabulary()))

    def __getitem__(self, key: str) -> str:
        return self._table()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


def _pairs(tags: Iterable[Tag]) -> list[tuple[str, str]]:
    return [(t.id, t.label) for t in tags]


CONTACT_REASONS: Mapping[str, str] = _Labels(lambda v: _pairs(v.reasons))
AVOIDABLE_CATEGORIES: Mapping[str, str] = _Labels(lambda v: _pairs(v.categories))
QA_CHECKS: Mapping[str, str] = _Labels(lambda v: _pairs(v.checks))
#: Vulnerability id -> label, as models/vulnerability.yaml names them.
VULNERABILITIES: Mapping[str, str] = _Labels(lambda v: _pairs(v.vulnerabilities))
#: A council's own flags (models/flags.yaml): `<family>:<tag>` -> "Family: Tag".
FAMILY_TAGS: Mapping[str, str] = _Labels(
    lambda v: [(f"{f.id}:{t.id}", f"{f.label}: {t.label}") for f in v.families for t in f.tags]
)

#: What a quality lead did about a safeguarding call; "no_action" needs a note saying why.
SAFEGUARDING_ACTIONS: dict[str, str] = {
    "childrens_services": "Referred to children's services",
    "adult_social_care": "Referred to adult social care",
    "police": "Referred to the police",
    "no_action": "No action",
}

#: Yes/no tags besides the QA checks, with the question a reviewer answers.
BOOLEAN_TAGS: dict[str, str] = {
    "avoidable": "Avoidable contact",
    "complaint": "Caller made a complaint",
    "transferred": "Call was transferred",
    "repeat_caller": "Caller had rung recently",
}

#: The queue's own flags, beside the scorecard's `complaint` and `transferred` (named by the
#: vocabulary) and `qa:<check>` (named by `flag_label`).
_QUEUE_FLAGS: dict[str, str] = {
    "low_confidence": "Transcript unclear",
    "low_qa": "Low quality score",
    "low_qa_score": "Low quality score",
    "avoidable": "Avoidable",
    "repeat_caller": "Repeat caller",
    "long_call": "Long call",
    "long_silence": "Long silence",
    "overtalk": "Talking over the caller",
    "no_id_check": "No identity check",
    "targeted": "Targeted sample",
    "uncertain": "Tagger unsure (a review teaches it most)",
    "safeguarding": "Safeguarding",
}
#: A queue flag's short name: "Complaint", not the review question.
FLAGS: Mapping[str, str] = _Labels(lambda v: [*_pairs(v.call_flags), *_QUEUE_FLAGS.items()])

#: The tags a quality lead agrees or disagrees with, in the order the form shows them.
REVIEW_TAGS: tuple[str, ...] = (
    "primary_reason",
    "avoidable",
    "avoidable_category",
    "complaint",
    "transferred",
    "repeat_caller",
    # docs/design.md's checks: the columns a review's verdicts are compared with.
    *DESIGN_IDS["checks"],
)


def label(value: object) -> str:
    """The plain-English name of any id; unknown ids are tidied, empty ones say so."""
    if value is None or value == "":
        return "None"
    text = str(value)
    # Evidence for a vulnerability is tagged `vulnerability:<id>`.
    text = text.removeprefix("vulnerability:")
    # ... and for a council's own flag `tags:<family>:<tag>`.
    text = text.removeprefix("tags:")
    for table in (
        CONTACT_REASONS,
        AVOIDABLE_CATEGORIES,
        QA_CHECKS,
        BOOLEAN_TAGS,
        FLAGS,
        VULNERABILITIES,
        FAMILY_TAGS,
    ):
        if text in table:
            return table[text]
    return text.replace("_", " ").strip().capitalize()


def flag_label(flag: str) -> str:
    """A queue flag's short name ("Complaint", not the review question)."""
    check = flag.removeprefix("qa:")
    if check != flag and check in QA_CHECKS:
        return f"Not done: {QA_CHECKS[check].lower()}"
    return FLAGS.get(flag) or label(flag)


def queue_reasons(flags: list[str], sample_kind: object) -> list[str]:
    """Why a call is in the review queue: its flags, safeguarding first, and "targeted" when
    it was drawn by the targeted sample (flag ids; `flag_label` names them)."""
    reasons = sorted(flags, key=lambda f: f != "safeguarding")
    if sample_kind == "targeted" and "targeted" not in reasons:
        reasons.append("targeted")
    return reasons


def tag_label(tag: str) -> str:
    """Heading of a review tag."""
    return {
        "primary_reason": "Main reason for the call",
        "avoidable_category": "Why it was avoidable",
    }.get(tag, label(tag))


def describe_tag(tag: str, value: object) -> str:
    """A tag's machine value as a short sentence part, e.g. "Yes" or "Council Tax"."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None or value == "":
        return "Not avoidable" if tag == "avoidable_category" else "Unknown"
    return label(value)
