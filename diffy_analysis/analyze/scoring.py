"""Host scores and the outlier decision (both methods).

Score: the sum of the weights of a host's strong findings, plus its weak findings' weights capped at
``WEAK_CAP_FINDINGS x weak_weight`` (ten random ports must not add up to one real finding).

The outlier decision is no longer taken from the distribution of scores: see analyze/verdict.py.
The score only orders hosts and findings in reports.
"""

from __future__ import annotations

from collections.abc import Iterable

from diffy_analysis.analyze.candidates import Candidate
from diffy_analysis.normalize.rules import Thresholds

WEAK_CAP_FINDINGS = 3


def score(candidates: Iterable[Candidate], thresholds: Thresholds) -> float:
    strong = 0.0
    weak = 0.0
    for c in candidates:
        if c.strength == "strong":
            strong += c.weight
        else:
            weak += c.weight
    return strong + min(weak, WEAK_CAP_FINDINGS * thresholds.weak_weight)
