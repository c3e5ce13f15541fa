"""Tag call transcripts: contact reasons, NI14 avoidable contact, QA checks, complaint, transfer,
vulnerability and a council's own flags, each with evidence; personal data found and redacted.

The knowledge lives in the YAML rule packs of `models/` (a council edits those, not this
package); which ids exist, and their labels, is `pipeline/vocabulary.py`'s to say. The modules,
in the order a call goes through them:

    tags.py        the data in and out (`TextTurn`, `Tags`, `Evidence`) and the tag ids
    phrases.py     the packs' phrase syntax compiled to token patterns
    packs.py       the YAML rule packs read into `Rule`s
    components.py  the spaCy components: the match-key normaliser, the personal-data finder
    ruler.py       the rules' matcher: every pack's patterns, spans per output field
    nlp.py         `load_pipeline`: en_core_web_sm + normaliser + rules' matcher + PII
    hits.py        the spans that count: not excluded, said by the right speaker, where
    rules.py       the rules' tags of a call from its hits
    views.py       what the learned layer reads of a call
    decide.py      `apply_model`: the model's probabilities turned into tags and evidence
    tagger.py      `tag_many`, `tag_transcript`, `rule_views`
    files.py       `tag_file`: `callqa tag FILE`
"""

from pipeline.tagging.decide import apply_model
from pipeline.tagging.files import tag_file
from pipeline.tagging.nlp import load_pipeline
from pipeline.tagging.tagger import rule_views, tag_many, tag_transcript
from pipeline.tagging.tags import (
    AVOIDABLE_CATEGORIES,
    CONTACT_REASONS,
    QA_CHECKS,
    REVIEWED_TAGS,
    SAFEGUARDING,
    UNCERTAIN_MARGIN,
    VULNERABILITIES,
    Evidence,
    PIISpan,
    QAChecks,
    RedactedTurn,
    TagLabels,
    Tags,
    TextTurn,
    TurnText,
    label_fields,
    load_qa_weights,
    qa_score,
)

__all__ = [
    "AVOIDABLE_CATEGORIES",
    "CONTACT_REASONS",
    "QA_CHECKS",
    "REVIEWED_TAGS",
    "SAFEGUARDING",
    "UNCERTAIN_MARGIN",
    "VULNERABILITIES",
    "Evidence",
    "PIISpan",
    "QAChecks",
    "RedactedTurn",
    "TagLabels",
    "Tags",
    "TextTurn",
    "TurnText",
    "apply_model",
    "label_fields",
    "load_pipeline",
    "load_qa_weights",
    "qa_score",
    "rule_views",
    "tag_file",
    "tag_many",
    "tag_transcript",
]
