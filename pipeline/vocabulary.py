"""Every tag id callqa can give, with its label, read from the YAML in a models folder.

A council adds a contact reason, an avoidable category, a QA check or a whole flag family by
editing YAML; tagging, scorecards, the report and the review app take the ids and labels from
here, so nothing else changes::

    taxonomy.yaml        reasons:          [{id, label, patterns...}]
    avoidable.yaml       categories:       [{id, label, definition, patterns...}]
    qa_checks.yaml       checks:           [{id, label, weight, patterns...}]
                         flags:            [{id, label, patterns...}]  complaint, transferred
    vulnerability.yaml   vulnerabilities:  [{id, label, safeguarding}]
    flags.yaml           families:         [{id, label, tags: [{id, label, patterns...}]}]

The ids docs/design.md fixes must stay (other tools read them); more may follow. `flags.yaml` is
optional. The phrases (`patterns`, `confusions`, `exclude`, ...) are read by
`pipeline.tagging`, which builds the rulers from the same entries.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import callqa_models
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import RulePackError

__all__ = [
    "DEFAULT_MODELS_DIR",
    "DESIGN_IDS",
    "FlagFamily",
    "QACheck",
    "Tag",
    "Vocabulary",
    "Vulnerability",
    "load_vocabulary",
    "read_pack",
]

_T = TypeVar("_T", bound="Tag")

DEFAULT_MODELS_DIR = callqa_models.DIR

#: docs/design.md's default vocabulary, by YAML section: a council may add ids, never drop these.
DESIGN_IDS: dict[str, tuple[str, ...]] = {
    "reasons": (
        "council_tax",
        "benefits",
        "waste_recycling",
        "parking",
        "housing_repairs",
        "housing_options",
        "planning",
        "school_admissions",
        "libraries",
        "adult_social_care",
        "children_services",
        "environmental_health",
        "highways",
        "registrars",
        "online_account",
        "other",
    ),
    "categories": (
        "progress_chasing",
        "repeat_contact",
        "clarification",
        "wrong_routing",
        "service_failure",
        "self_serve_available",
    ),
    "checks": ("greeting", "agent_named", "id_check", "anything_else_offered", "closing"),
    "vulnerabilities": (
        "risk_to_life",
        "child_at_risk",
        "adult_at_risk",
        "domestic_abuse",
        "homeless_tonight",
        "financial_hardship",
        "bereavement",
        "health_or_disability",
        "communication_needs",
    ),
}
# qa_checks.yaml's `flags` are scorecard columns of their own: exactly these two.
_CALL_FLAGS = ("complaint", "transferred")
# Ids become Parquet map keys, metric names (`reason:<id>`) and URL query values.
_ID = r"^[a-z][a-z0-9_]*$"
# A family id is a key of the `tags` column beside these fields: it must not read as one.
_RESERVED_FAMILIES = frozenset(
    {"contact_reasons", "primary_reason", "avoidable", "avoidable_category", "qa", "tags"}
    | {"vulnerability", "safeguarding", *_CALL_FLAGS}
)


class Tag(BaseModel):
    """One id with the words people read for it."""

    # The phrases and rule settings beside id and label are tagging's to read.
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=_ID)
    label: str = Field(min_length=1)


class QACheck(Tag):
    """A quality check; `weight` is its share of the 0-100 QA score."""

    weight: float = Field(ge=0)


class Vulnerability(Tag):
    """A vulnerability id; `safeguarding` ids are the ones a council must act on."""

    safeguarding: bool = False


class FlagFamily(Tag):
    """A council's own yes/no tags, grouped (`accessibility`: `bsl_interpreter`, ...)."""

    tags: tuple[Tag, ...] = Field(min_length=1)


class Vocabulary(BaseModel):
    """Every tag family of one models folder, in the YAML's order."""

    model_config = ConfigDict(frozen=True)

    reasons: tuple[Tag, ...]
    categories: tuple[Tag, ...]
    checks: tuple[QACheck, ...]
    call_flags: tuple[Tag, ...]
    vulnerabilities: tuple[Vulnerability, ...]
    families: tuple[FlagFamily, ...]

    @property
    def reason_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.reasons)

    @property
    def category_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.categories)

    @property
    def check_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.checks)

    @property
    def vulnerability_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.vulnerabilities)

    @property
    def safeguarding_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.vulnerabilities if t.safeguarding)

    @property
    def qa_weights(self) -> dict[str, float]:
        return {c.id: c.weight for c in self.checks}

    def metric_labels(self) -> dict[str, str]:
        """The words for each tag metric of the monthly estimates (`reason:<id>`, `qa:<id>`,
        `avoidable_category:<id>`, `tags:<family>:<id>`)."""
        return {
            **{f"reason:{t.id}": t.label for t in self.reasons},
            **{f"avoidable_category:{t.id}": t.label for t in self.categories},
            **{f"qa:{t.id}": t.label for t in self.checks},
            **{
                f"tags:{f.id}:{t.id}": f"{f.label}: {t.label}"
                for f in self.families
                for t in f.tags
            },
        }


def read_pack(path: Path) -> dict[str, Any]:
    """A YAML file of the models folder as a mapping; RulePackError naming it otherwise."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulePackError(
            f"{path}: rule pack not found; restore it from models/ in git"
        ) from None
    except yaml.YAMLError as err:
        raise RulePackError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(data, dict):
        raise RulePackError(f"{path}: expected a mapping at the top level")
    return data


def _section(
    path: Path, data: dict[str, Any], section: str, model: type[_T], required: Sequence[str]
) -> tuple[_T, ...]:
    entries = data.get(section)
    if not isinstance(entries, list):
        raise RulePackError(f"{path}: `{section}` must be a list of entries with an `id`")
    out: list[_T] = []
    for n, entry in enumerate(entries):
        name = entry.get("id", f"entry {n}") if isinstance(entry, dict) else f"entry {n}"
        try:
            item = model.model_validate(entry)
        except ValidationError as err:
            problems = "; ".join(
                f"`{'.'.join(str(p) for p in e['loc']) or 'entry'}`: {e['msg']}"
                for e in err.errors()
            )
            raise RulePackError(f"{path}: {section}[{n}] ({name}): {problems}") from None
        if any(seen.id == item.id for seen in out):
            raise RulePackError(f"{path}: id {item.id!r} appears twice in `{section}`")
        out.append(item)
    missing = [i for i in required if i not in {t.id for t in out}]
    if missing:
        raise RulePackError(
            f"{path}: `{section}` is missing {', '.join(missing)}: docs/design.md's ids must stay "
            "(add new ids beside them)"
        )
    return tuple(out)


def _families(path: Path) -> tuple[FlagFamily, ...]:
    if not path.exists():
        return ()
    data = read_pack(path)
    families = _section(path, {"families": data.get("families") or []}, "families", FlagFamily, ())
    for family in families:
        if family.id in _RESERVED_FAMILIES:
            raise RulePackError(
                f"{path}: family id {family.id!r} is a tag field of its own; choose another"
            )
        ids = [t.id for t in family.tags]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise RulePackError(
                f"{path}: id {twice[0]!r} appears twice in family {family.id!r}'s `tags`"
            )
    return families


@functools.lru_cache(maxsize=8)
def _load(models_dir: Path) -> Vocabulary:
    taxonomy = models_dir / "taxonomy.yaml"
    avoidable = models_dir / "avoidable.yaml"
    qa = models_dir / "qa_checks.yaml"
    vulnerability = models_dir / "vulnerability.yaml"
    qa_data = read_pack(qa)
    checks = _section(qa, qa_data, "checks", QACheck, DESIGN_IDS["checks"])
    if sum(c.weight for c in checks) <= 0:
        raise RulePackError(f"{qa}: the check weights sum to zero")
    call_flags = _section(qa, qa_data, "flags", Tag, _CALL_FLAGS)
    unknown = [f.id for f in call_flags if f.id not in _CALL_FLAGS]
    if unknown:
        raise RulePackError(
            f"{qa}: unknown id {unknown[0]!r} in `flags` (known: {', '.join(_CALL_FLAGS)}); "
            "a council's own flags go in flags.yaml as a family"
        )
    return Vocabulary(
        reasons=_section(taxonomy, read_pack(taxonomy), "reasons", Tag, DESIGN_IDS["reasons"]),
        categories=_section(
            avoidable, read_pack(avoidable), "categories", Tag, DESIGN_IDS["categories"]
        ),
        checks=checks,
        call_flags=call_flags,
        vulnerabilities=_section(
            vulnerability,
            read_pack(vulnerability),
            "vulnerabilities",
            Vulnerability,
            DESIGN_IDS["vulnerabilities"],
        ),
        families=_families(models_dir / "flags.yaml"),
    )


def load_vocabulary(models_dir: Path | str | None = None) -> Vocabulary:
    """The vocabulary of `models_dir` (default: the shipped models/), read once per folder.

    Raises RulePackError naming the file and the entry: a duplicate id, a missing label, a
    bad weight, an unknown id, or one of docs/design.md's ids removed.
    """
    # Keyed on the folder as given: the review app looks labels up often, and resolving the
    # path each time would cost more than the look-up.
    return _load(DEFAULT_MODELS_DIR if models_dir is None else Path(models_dir))
