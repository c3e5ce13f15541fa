"""The month's sample design: its random rows, their weights and the strata for the variance.

Each night is a stratified random draw, so the month is a stratified sample with strata
(`call_date`, `stratum`) and weights 1 / inclusion_prob, scaled within a stratum to cover calls
that failed. Strata with a single scored call have no within-stratum variance; those of one
night are pooled (and a pool of one is merged into that night's largest stratum).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

__all__ = ["sample_design"]


def _collapse_strata(strata: pd.Series, nights: pd.Series) -> pd.Series:
    """Pool single-call strata within their night so every stratum can give a variance."""
    labels = [str(s) for s in strata]
    days = [str(n) for n in nights]
    counts = Counter(labels)
    for night in dict.fromkeys(days):
        pooled = f"{night}|pooled"
        members = [i for i, d in enumerate(days) if d == night and counts[labels[i]] == 1]
        for i in members:
            labels[i] = pooled
        if len(members) == 1:
            rest = Counter(labels[i] for i, d in enumerate(days) if d == night and i not in members)
            if rest:
                labels[members[0]] = rest.most_common(1)[0][0]
    counts = Counter(labels)
    if len(counts) > 1 and min(counts.values()) == 1:
        # A night with a single call: fold it into the largest stratum of the month.
        largest = counts.most_common(1)[0][0]
        labels = [largest if counts[s] == 1 else s for s in labels]
    return pd.Series(labels, index=strata.index)


def sample_design(scorecards: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """The month's random rows with design weights adjusted for calls that failed.

    Each scored call keeps its weight 1 / inclusion_prob, scaled within its (night, stratum) so
    the scored calls carry the weight of every call drawn there (a failed call's share goes to
    the calls like it): `design_weight`. `variance_stratum` is the collapsed stratum. Variance
    uses the with-replacement approximation (no finite-population correction), as
    pipeline/sampling.py advises: standard, and conservative for these designs.
    """
    # A call with no usable speech has no reasons or checks to count: like a failed call, its
    # share of the stratum's weight goes to the calls that were heard.
    heard = scorecards["transcript_status"].fillna("ok") == "ok"
    random = scorecards[(scorecards["sample_kind"] == "random") & heard].copy()
    if random.empty:
        return random
    random["call_date"] = random["call_date"].astype(str)
    random["design_stratum"] = random["call_date"] + "|" + random["stratum"].astype(str)
    scored = random.groupby("design_stratum")["weight"].transform("sum")
    drawn = samples[samples["sample_kind"] == "random"]
    drawn_weight = (
        (drawn["call_date"].astype(str) + "|" + drawn["stratum"].astype(str))
        .to_frame("design_stratum")
        .assign(weight=drawn["weight"].to_numpy())
        .groupby("design_stratum")["weight"]
        .sum()
    )
    # Without a manifest row, the scored calls' own weights stand for the stratum.
    target = random["design_stratum"].map(drawn_weight).fillna(scored)
    random["design_weight"] = random["weight"] * target / scored
    random["variance_stratum"] = _collapse_strata(random["design_stratum"], random["call_date"])
    return random.reset_index(drop=True)
