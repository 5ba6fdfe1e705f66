"""analyze/candidates.py: the candidate model's ordering and the population-share rule."""

from __future__ import annotations

from diffy_analysis.analyze.candidates import Candidate, order_key, population_share


def test_order_is_weight_then_strength_then_key_then_kind():
    heavy = Candidate("added", 1, 2.0)
    light = Candidate("added", 2, 1.0)
    weak = Candidate("added", 3, 1.0, strength="weak")
    key_a, key_b = ("processes", ("a",)), ("processes", ("b",))
    ordered = sorted(
        [(light, key_b), (weak, key_a), (heavy, key_b), (light, key_a)], key=lambda x: order_key(*x)
    )
    assert [(c.fid, k) for c, k in ordered] == [(1, key_b), (2, key_a), (2, key_b), (3, key_a)]
    # weights equal to 9 decimals tie (float noise never reorders findings)
    assert order_key(Candidate("added", 1, 0.1 + 0.2), key_a) == order_key(Candidate("added", 1, 0.3), key_a)


def test_population_share_needs_min_hosts_and_more_than_the_fraction():
    assert not population_share(4, 40, 3, 0.1)  # exactly 10%: what a campaign touches
    assert population_share(5, 40, 3, 0.1)
    assert not population_share(2, 4, 3, 0.1)  # a majority, but fewer than min_hosts
