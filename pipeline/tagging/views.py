"""What the learned layer reads of a call (`pipeline.learned.CallView`): its turns, and the
rules' hits, personal data and decisions under the model's target names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pipeline.learned import CallView
from pipeline.redact import PIISpan
from pipeline.tagging.hits import Hit
from pipeline.tagging.tags import FLAGS, Tags

__all__ = ["call_view", "rule_decisions"]


def rule_decisions(tags: Tags) -> list[str]:
    """The rules' tags under the learned layer's target names."""
    out = [f"contact_reasons:{r}" for r in tags.contact_reasons]
    out.append(f"primary_reason:{tags.primary_reason}")
    if tags.avoidable:
        out += ["avoidable", f"avoidable_category:{tags.avoidable_category}"]
    out += [flag for flag in FLAGS if getattr(tags, flag)]
    out += [f"qa:{check}" for check, passed in tags.qa.as_dict().items() if passed]
    return out


def _side(speaker: str) -> str:
    return "agent" if speaker == "agent" else "caller"


def call_view(
    hits: Sequence[Hit],
    pii: Sequence[PIISpan],
    speakers: Sequence[str],
    texts: Sequence[str],
    tags: Tags,
) -> CallView:
    """One call's view: hits and personal data counted per side, and the rules' tags."""
    counts: dict[str, float] = {}
    for hit in hits:
        name = f"hit:{hit.key}:{hit.label}:{_side(speakers[hit.turn])}"
        counts[name] = counts.get(name, 0.0) + 1.0
    for span in pii:
        name = f"pii:{span.type}:{_side(speakers[span.turn])}"
        counts[name] = counts.get(name, 0.0) + 1.0
    features = {name: math.log1p(n) for name, n in counts.items()}
    for tag in rule_decisions(tags):
        features[f"rule:{tag}"] = 1.0
    return CallView(tuple(speakers), tuple(texts), features)
