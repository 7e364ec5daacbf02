"""Shared fixtures: the real MovieLens 100k (by path, never copied) and small synthetic sets."""

import os

import pytest

from components.movielens import synthetic

# Real MovieLens 100k is read in place: its licence forbids copying it into this repository.
ML100K_DIR = os.environ.get(
    "MOVIELENS_100K_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "ml-100k"),
)


@pytest.fixture(scope="session")
def ml100k_dir() -> str:
    if not os.path.isfile(os.path.join(ML100K_DIR, "u.data")):
        pytest.skip(f"MovieLens 100k not found at {ML100K_DIR} (set MOVIELENS_100K_DIR)")
    return ML100K_DIR


SMALL = synthetic.SyntheticConfig(num_users=60, num_movies=200, num_ratings=3000, seed=7)


@pytest.fixture(scope="session")
def small_data():
    return synthetic.generate(SMALL)
