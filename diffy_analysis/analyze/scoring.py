"""Host scores and the outlier decision (both methods).

Score: the sum of the weights of a host's strong findings, plus its weak findings' weights capped at
``WEAK_CAP_FINDINGS x weak_weight`` (ten random ports must not add up to one real finding).

Outlier: ``score >= outlier_min_score`` (one strong finding in a fully significant table) **and**
``score > median + outlier_mad_factor x 1.4826 x MAD`` over all hosts' scores. The second condition
is data-driven: when a difference is everywhere (a noisy table nobody configured), the median rises
and nobody is flagged for it; on a clean fleet the median and MAD are ~0 and the first condition
decides.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

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


def outlier_threshold(scores: np.ndarray, thresholds: Thresholds) -> float:
    if len(scores) == 0:
        return thresholds.outlier_min_score
    median = float(np.median(scores))
    mad = float(np.median(np.abs(scores - median)))
    return max(thresholds.outlier_min_score, median + thresholds.outlier_mad_factor * 1.4826 * mad + 1e-9)
