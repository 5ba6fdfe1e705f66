"""The entry model's per-template host counts (analyze/randomness.py) summed over the holders'
profiles only: exactly what a product with the whole profile matrix gives (issue 17's fix of a
step that was quadratic in the fleet), and the per-feature query codes the judgement selects by."""

from __future__ import annotations

import numpy as np

from diffy_analysis.analyze.entries import EntryModel
from diffy_analysis.load import open_results
from diffy_analysis.normalize import build_fleet, default_config
from diffy_fleetgen import FleetOptions, generate_fleet


def test_held_counts_equal_the_whole_matrix_product(tmp_path):
    fleet = generate_fleet(tmp_path, FleetOptions(hosts=30, seed=2004, per_host_volatile=True), workers=1)
    index = build_fleet(open_results([fleet.run_dir]), default_config()).index
    model = EntryModel(index)
    randomness = model.randomness
    assert model._matrix is not None
    rng = np.random.default_rng(5)
    n_profiles = len(index.profiles)
    for size in (1, 2, n_profiles // 3, n_profiles):
        held = np.zeros(n_profiles, dtype=bool)
        held[rng.choice(n_profiles, size=size, replace=False)] = True
        # host weights as a fleet with identical hosts collapsed would have them (not all 1)
        holders = held * model.weights * rng.integers(1, 5, n_profiles)
        whole = np.asarray(model._matrix.T @ holders).ravel()
        mine = randomness._held_counts(np.flatnonzero(held), holders)
        assert mine.shape == whole.shape
        assert np.array_equal(mine, whole)  # whole host counts: the same numbers, not just close


def test_feature_query_codes_name_every_feature_s_query(tmp_path):
    fleet = generate_fleet(tmp_path, FleetOptions(hosts=12, seed=2005), workers=1)
    index = build_fleet(open_results([fleet.run_dir]), default_config()).index
    codes, names = index.feature_query_codes()
    by_code = {code: query for query, code in names.items()}
    assert len(codes) == index.n_features
    assert [by_code[int(c)] for c in codes] == [index.query_of(f) for f in range(index.n_features)]
