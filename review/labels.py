"""Plain-English words for the machine's tag ids, for people who do not read column names.

Ids are DESIGN.md's; an id this module does not know is shown tidied (`new_reason` ->
"New reason") rather than hidden, so a new taxonomy entry never disappears from the pages.
Vulnerability labels are read from models/vulnerability.yaml, where the ids are defined.
"""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = [
    "AVOIDABLE_CATEGORIES",
    "BOOLEAN_TAGS",
    "CONTACT_REASONS",
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
]

#: pipeline.tagging.DEFAULT_MODELS_DIR (importing pipeline.tagging would load spaCy).
_VULNERABILITY_YAML = Path(__file__).resolve().parents[1] / "models" / "vulnerability.yaml"

CONTACT_REASONS: dict[str, str] = {
    "council_tax": "Council Tax",
    "benefits": "Benefits",
    "waste_recycling": "Bins, waste and recycling",
    "parking": "Parking",
    "housing_repairs": "Housing repairs",
    "housing_options": "Housing options and homelessness",
    "planning": "Planning",
    "school_admissions": "School admissions",
    "libraries": "Libraries",
    "adult_social_care": "Adult social care",
    "children_services": "Children's services",
    "environmental_health": "Environmental health",
    "highways": "Roads and highways",
    "registrars": "Registrars (births, deaths, marriages)",
    "online_account": "Online account help",
    "other": "Something else",
}

AVOIDABLE_CATEGORIES: dict[str, str] = {
    "progress_chasing": "Chasing progress on an earlier request",
    "repeat_contact": "Calling again about the same thing",
    "clarification": "Asking us to explain something we sent",
    "wrong_routing": "Put through to the wrong place",
    "service_failure": "Something we should have done was not done",
    "self_serve_available": "Could have been done online",
}

QA_CHECKS: dict[str, str] = {
    "greeting": "Greeted the caller",
    "agent_named": "Gave their name",
    "id_check": "Checked the caller's identity",
    "anything_else_offered": "Asked if there was anything else",
    "closing": "Closed the call properly",
}


def _vulnerabilities() -> dict[str, str]:
    data = yaml.safe_load(_VULNERABILITY_YAML.read_text(encoding="utf-8"))
    return {str(v["id"]): str(v["label"]) for v in data["vulnerabilities"]}


#: Vulnerability id -> label, as models/vulnerability.yaml names them.
VULNERABILITIES: dict[str, str] = _vulnerabilities()

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

FLAGS: dict[str, str] = {
    "complaint": "Complaint",
    "low_confidence": "Transcript unclear",
    "low_qa": "Low quality score",
    "low_qa_score": "Low quality score",
    "avoidable": "Avoidable",
    "repeat_caller": "Repeat caller",
    "transferred": "Transferred",
    "long_call": "Long call",
    "long_silence": "Long silence",
    "overtalk": "Talking over the caller",
    "no_id_check": "No identity check",
    "targeted": "Targeted sample",
    "uncertain": "Tagger unsure (a review teaches it most)",
    "safeguarding": "Safeguarding",
}

#: The tags a quality lead agrees or disagrees with, in the order the form shows them.
REVIEW_TAGS: tuple[str, ...] = (
    "primary_reason",
    "avoidable",
    "avoidable_category",
    "complaint",
    "transferred",
    "repeat_caller",
    *QA_CHECKS,
)


def label(value: object) -> str:
    """The plain-English name of any id; unknown ids are tidied, empty ones say so."""
    if value is None or value == "":
        return "None"
    text = str(value)
    # Evidence for a vulnerability is tagged `vulnerability:<id>`.
    text = text.removeprefix("vulnerability:")
    for table in (
        CONTACT_REASONS,
        AVOIDABLE_CATEGORIES,
        QA_CHECKS,
        BOOLEAN_TAGS,
        FLAGS,
        VULNERABILITIES,
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
