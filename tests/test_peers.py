"""The library peers: tuned on train only, scored over our indices by our metric code."""

import numpy as np
import pytest

from bench import peers
from common.config_error import ConfigError
from trainer import metrics
from trainer.data import Ratings

USERS, MOVIES = 200, 120


def _planted(seed: int = 0, n: int = 4000) -> Ratings:
    """200 users in 6 groups; a user mostly rates (5 stars) movies of its group's 20 of 120,
    sometimes (1 star) any other."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, USERS, n)
    own = rng.random(n) < 0.85
    movies = np.where(own, (users % 6) * 20 + rng.integers(0, 20, n),
                      rng.integers(0, MOVIES, n))
    pairs = np.unique(np.stack([users, movies], axis=1), axis=0)
    liked = (pairs[:, 1] // 20) == (pairs[:, 0] % 6)
    return Ratings(pairs[:, 0], pairs[:, 1], np.where(liked, 1.0, 0.0).astype(np.float32))


def test_ranking_peers_find_each_groups_movies_and_tune_within_their_grid():
    train, evaluation = _planted().split_off(0.2, seed=1)
    popular = metrics.retrieval_report(metrics.most_popular_scorer(train, MOVIES),
                                       train, evaluation, USERS, MOVIES)
    for peer in peers.named(["EASE", "ItemKNN", "iALS", "BPR"]):
        report, chosen = peers.tune_and_score(peer, train, evaluation, USERS, MOVIES, seed=0)
        assert report["ndcg@10"] > 2 * popular["ndcg@10"], peer.name
        assert chosen in peer.candidates() and report["train_seconds"] > 0


def test_rating_peers_beat_the_global_mean():
    train, evaluation = _planted(n=20000).split_off(0.2, seed=1)
    mean_rmse = metrics.rmse(np.full(len(evaluation), train.rating.mean()), evaluation.rating)
    for peer in peers.named(["SVD", "SVD++"]):
        report, _ = peers.tune_and_score(peer, train, evaluation, USERS, MOVIES, seed=0)
        assert report["rmse_unit"] < 0.7 * mean_rmse, peer.name
        assert report["rmse_stars"] == pytest.approx(4 * report["rmse_unit"])


def test_the_choice_never_depends_on_eval():
    train, evaluation = _planted().split_off(0.2, seed=1)
    other = Ratings(evaluation.user_index, (evaluation.movie_index + 7) % MOVIES, evaluation.rating)
    peer = peers.named(["EASE"])[0]
    first = peers.tune_and_score(peer, train, evaluation, USERS, MOVIES, seed=0)
    second = peers.tune_and_score(peer, train, other, USERS, MOVIES, seed=0)
    assert first[1] == second[1] and first[0]["ndcg@10"] != second[0]["ndcg@10"]


def test_unknown_users_get_the_most_popular_ranking_and_unknown_movies_are_never_offered():
    train = Ratings(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 2, 1]),
                    np.ones(5, np.float32))
    scorer = peers._ease(train, 4, 4, 0, lamb=1.0, posB=False)
    scores = scorer(np.array([0, 3]))
    assert np.isneginf(scores[0, 3])  # movie 3 has no training rating
    np.testing.assert_array_equal(scores[1], [1, 3, 1, -np.inf])  # user 3: training counts


def test_peer_names_are_checked():
    assert peers.named(["none"]) == ()
    assert [p.name for p in peers.named(["all"])] == [p.name for p in peers.PEERS]
    with pytest.raises(ConfigError, match="--peers: unknown SLIM"):
        peers.named(["EASE", "SLIM"])


def test_item_knn_scores_every_movie_a_neighbour_reaches_the_last_one_included():
    # Movies 0-2 are rated together; movie 3 (the last) with movie 2 only.
    train = Ratings(np.array([0, 0, 0, 1, 1, 2, 2]), np.array([0, 1, 2, 1, 2, 2, 3]),
                    np.ones(7, np.float32))
    scores = peers._item_knn(train, 3, 4, 0, K=1)(np.array([2]))[0]
    assert scores[3] > 0 and np.isfinite(scores).all()


def test_ease_refuses_a_catalogue_it_cannot_invert():
    train = Ratings(np.array([0]), np.array([0]), np.ones(1, np.float32))
    with pytest.raises(ConfigError, match="--peers EASE: 20,001 movies"):
        peers._ease(train, 1, peers.EASE_MAX_MOVIES + 1, 0, lamb=1.0)
