"""analyze/scoring.py: a host's score and the fleet's outlier threshold."""

from __future__ import annotations

import numpy as np

from diffy_analysis.analyze.candidates import Candidate
from diffy_analysis.analyze.scoring import WEAK_CAP_FINDINGS, outlier_threshold, score
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


def test_threshold_is_the_minimum_score_on_a_clean_fleet():
    assert outlier_threshold(np.zeros(20), T) == T.outlier_min_score
    assert outlier_threshold(np.asarray([]), T) == T.outlier_min_score


def test_a_difference_everywhere_raises_the_threshold_above_it():
    scores = np.asarray([1.0] * 10 + [1.2] * 10 + [9.0])
    threshold = outlier_threshold(scores, T)
    assert threshold > 1.2  # the noisy table flags nobody ...
    assert threshold < 9.0  # ... the host far above its peers still stands out
