"""The rule packs' phrase syntax, compiled to spaCy token patterns over match keys.

Words are separated by spaces; `a|b` is either word; `word?` is optional; `*` is any one word or
none. A pattern may also be a raw spaCy token pattern (a list of dicts), passed on as it is.
A compiled pattern without wildcards goes back to phrases for spaCy's PhraseMatcher.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import RulePackError

__all__ = ["CLITICS", "PhraseCompiler", "as_phrases", "canonical_pattern", "singular"]

#: spaCy leaves these clitic norms as spoken; speech recognition writes "im", "ive".
CLITICS = {"m": "am", "'m": "am", "ve": "have", "'ve": "have", "ll": "will", "'ll": "will"}
# More combinations than this stay a token pattern rather than that many phrases.
_MAX_PHRASES = 64


class PhraseCompiler:
    """Turns pack phrases into token patterns over the match keys, noting every key used."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.vocabulary: set[str] = set()

    def word_keys(self, chunk: str) -> list[str]:
        keys = []
        for token in self._tokenizer(chunk):
            key = CLITICS.get(token.norm_, token.norm_)
            keys.append(key)
            self.vocabulary.add(key)
        return keys

    def compile(self, phrase: Any, where: str) -> list[dict[str, Any]]:
        """The token pattern of one pack phrase; RulePackError naming `where` if it is wrong."""
        if isinstance(phrase, list):
            return phrase  # a raw spaCy pattern: the ruler validates it
        if not isinstance(phrase, str) or not phrase.strip():
            raise RulePackError(f"{where}: a pattern must be a phrase or a spaCy token pattern")
        pattern: list[dict[str, Any]] = []
        for chunk in phrase.lower().split():
            if chunk == "*":
                pattern.append({"OP": "?"})
                continue
            optional = chunk.endswith("?") and len(chunk) > 1
            chunk = chunk.removesuffix("?") if optional else chunk
            alternatives = chunk.split("|")
            if len(alternatives) > 1 or optional:
                pattern.append(self._choice(alternatives, optional, phrase, where))
            else:
                pattern.extend({"NORM": key} for key in self.word_keys(chunk))
        if all(t.get("OP") == "?" for t in pattern):
            raise RulePackError(f"{where}: {phrase!r} can match nothing")
        return pattern

    def _choice(
        self, alternatives: list[str], optional: bool, phrase: str, where: str
    ) -> dict[str, Any]:
        keys = []
        for alt in alternatives:
            alt_keys = self.word_keys(alt)
            if len(alt_keys) != 1:
                raise RulePackError(
                    f"{where}: {alt!r} in {phrase!r} is not one word; "
                    "`|` and `?` apply to single words"
                )
            keys.extend(alt_keys)
        token: dict[str, Any] = {"NORM": {"IN": keys}} if len(keys) > 1 else {"NORM": keys[0]}
        if optional:
            token["OP"] = "?"
        return token


def singular(word: str, vocabulary: set[str]) -> str:
    """`word`'s singular where the packs also use it ("bins" -> "bin"), else `word`."""
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", "")):
        if not word.endswith(suffix) or word.endswith("ss"):
            continue
        stem = word.removesuffix(suffix) + replacement
        if len(stem) >= 3 and stem in vocabulary:
            return stem
    return word


def canonical_pattern(
    pattern: list[dict[str, Any]], canonical: dict[str, str]
) -> list[dict[str, Any]]:
    """`pattern` with each match key replaced by its canonical form."""
    out = []
    for token in pattern:
        norm = token.get("NORM")
        if isinstance(norm, str):
            token = {**token, "NORM": canonical.get(norm, norm)}
        elif isinstance(norm, dict) and isinstance(norm.get("IN"), list):
            values = list(dict.fromkeys(canonical.get(v, v) for v in norm["IN"]))
            token = {**token, "NORM": {**norm, "IN": values}}
        out.append(token)
    return out


def as_phrases(pattern: list[dict[str, Any]], make_doc: Any) -> list[str] | None:
    """The phrases a token pattern without wildcards stands for, or None.

    Phrases go to spaCy's PhraseMatcher, many times faster than the token Matcher; a pattern
    with `*`, a raw spaCy pattern, or too many combinations stays a token pattern.
    """
    variants: list[list[str]] = [[]]
    for token in pattern:
        norm = token.get("NORM")
        if set(token) - {"NORM", "OP"} or token.get("OP") not in (None, "?"):
            return None
        if isinstance(norm, str):
            words = [norm]
        elif isinstance(norm, dict) and set(norm) == {"IN"}:
            words = list(norm["IN"])
        else:
            return None
        options: list[list[str]] = [[w] for w in words] + ([[]] if token.get("OP") == "?" else [])
        variants = [v + o for v in variants for o in options]
        if len(variants) > _MAX_PHRASES:
            return None
    phrases = []
    for words in variants:
        text = " ".join(words)
        # The phrase must tokenise back to exactly these match keys.
        if not words or [t.norm_ for t in make_doc(text)] != words:
            return None
        phrases.append(text)
    return phrases
