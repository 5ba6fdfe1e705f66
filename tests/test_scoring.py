"""analyze/scoring.py: a host's score (it orders hosts and findings; the verdict is analyze/verdict.py's)."""

from __future__ import annotations

from diffy_analysis.analyze.candidates import Candidate
from diffy_analysis.analyze.scoring import WEAK_CAP_FINDINGS, score
from diffy_analysis.normalize.rules import Thresholds

T = Thresholds()


def test_strong_weights_add_up_and_weak_ones_are_capped():
    strong = [Candidate("added", i, 1.0) for i in range(2)]
    weak = [Candidate("added", 10 + i, T.weak_weight, strength="weak") for i in range(10)]
    assert score(strong, T) == 2.0
    # ten random ports must not add up to one real finding
    assert score(weak, T) == WEAK_CAP_FINDINGS * T.weak_weight
    assert score(strong + weak, T) == 2.0 + WEAK_CAP_FINDINGS * T.weak_weight
    assert score([], T) == 0.0
