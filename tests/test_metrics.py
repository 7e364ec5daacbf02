import numpy as np
import pytest

from trainer import metrics
from trainer.data import Ratings

# 3 users (index 3 = OOV), 4 movies. Scores rank movies 0 > 1 > 2 > 3 for every user.
SCORES = np.tile(np.array([4.0, 3.0, 2.0, 1.0]), (4, 1))


def SCORER(users):
    return SCORES[users]

TRAIN = Ratings(np.array([0, 1]), np.array([0, 0]), np.array([1.0, 0.5], dtype=np.float32))
EVAL = Ratings(np.array([0, 0, 1, 2]), np.array([1, 3, 2, 0]),
               np.array([1.0, 1.0, 0.25, 1.0], dtype=np.float32))


def test_rmse():
    assert metrics.rmse([0.0, 1.0], [0.0, 0.0]) == pytest.approx(np.sqrt(0.5))


def test_top_k_accuracy_counts_pairs():
    # top-2 for everyone is {0, 1}: pairs (0,1) and (2,0) hit, (0,3) and (1,2) miss.
    assert metrics.top_k_accuracy(SCORER, EVAL, 2) == 0.5
    five = EVAL.rating == 1.0
    assert metrics.top_k_accuracy(SCORER, EVAL, 2, only=five) == pytest.approx(2 / 3)


def test_top_k_accuracy_can_exclude_training_movies():
    seen = metrics.seen_matrix(TRAIN, num_users=3, num_movies=4)
    # Users 0 and 1 saw movie 0, so their top-2 becomes {1, 2}: (0,1) and (1,2) hit.
    assert metrics.top_k_accuracy(SCORER, EVAL, 2, exclude=seen) == 0.75


def test_recall_and_ndcg():
    seen = metrics.seen_matrix(TRAIN, num_users=3, num_movies=4)
    got = metrics.recall_and_ndcg_at_k(SCORER, EVAL, 2, seen)
    # user 0: top {1, 2}, relevant {1, 3}: recall 1/2, dcg 1, ideal 1 + 1/log2(3)
    # user 1: top {1, 2}, relevant {2}: recall 1, dcg 1/log2(3), ideal 1
    # user 2: top {0, 1}, relevant {0}: recall 1, dcg 1, ideal 1
    ideal0 = 1 + 1 / np.log2(3)
    assert got["recall@2"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert got["ndcg@2"] == pytest.approx((1 / ideal0 + 1 / np.log2(3) + 1) / 3)


def test_most_popular_ranks_by_training_count():
    scores = metrics.most_popular_scorer(TRAIN, num_movies=4)(np.array([1, 2]))
    assert scores.shape == (2, 4)
    assert np.argmax(scores[1]) == 0


def test_blocks_of_users_give_the_exact_dense_answer(monkeypatch):
    """Scores are taken for a few users at a time; the result must not depend on it."""
    rng = np.random.default_rng(0)
    users, movies = rng.normal(size=(50, 4)), rng.normal(size=(30, 4))
    train = Ratings(rng.integers(0, 49, 300), rng.integers(0, 30, 300),
                    np.ones(300, np.float32))
    evaluation = Ratings(rng.integers(0, 49, 200), rng.integers(0, 30, 200),
                         rng.choice([0.5, 1.0], 200).astype(np.float32))
    def scorer(block):  # dot products, one block of users at a time
        return users[block] @ movies.T

    whole = metrics.retrieval_report(scorer, train, evaluation, 49, 30)
    monkeypatch.setattr(metrics, "BLOCK_SCORES", 70)  # blocks of 2 users
    calls = []
    blocked = metrics.retrieval_report(lambda u: (calls.append(len(u)), scorer(u))[1],
                                       train, evaluation, 49, 30)
    assert blocked == whole and max(calls) == 2
    dense = users @ movies.T  # the same metric by hand: top 100 over 30 movies hits all
    assert whole["top100"] == 1.0
    seen = metrics.seen_matrix(train, 49, 30).toarray()[:50, :30]
    dense[seen[: len(dense)]] = -np.inf
    top10 = np.argsort(-dense, axis=1, kind="stable")[:, :10]
    five = evaluation.rating == 1.0
    expected = np.mean([m in top10[u] for u, m in zip(evaluation.user_index[five],
                                                       evaluation.movie_index[five])])
    assert whole["top10_5star_seen_excluded"] == pytest.approx(expected)


def test_unknown_eval_movie_is_a_miss():
    unknown = Ratings(np.array([0]), np.array([4]), np.array([1.0], dtype=np.float32))
    assert metrics.top_k_accuracy(SCORER, unknown, 4) == 0.0


def test_k_beyond_the_catalogue_returns_every_movie():
    assert metrics.top_k_accuracy(SCORER, EVAL, 100) == 1.0


def test_of_equal_scores_the_lower_movie_ranks_first():
    scores = np.array([[1.0, 3.0, 3.0, 0.0, 3.0], [-np.inf, 2.0, 2.0, 2.0, 2.0]], np.float32)
    np.testing.assert_array_equal(metrics.top_k_movies(lambda users: scores[users],
                                                       np.array([0, 1]), 2),
                                  [[1, 2], [1, 2]])


def test_slices_follow_the_evaluator_buckets():
    # Train: user 0 rates 60 times (medium), user 1 once (light), user 2 never.
    # Movie 0 holds 31 of the 61 ratings (head), movies 1-30 one each (the torso's third).
    train = Ratings(np.array([0] * 60 + [1]), np.array([0] * 30 + list(range(1, 31)) + [0]),
                    np.ones(61, np.float32))
    evaluation = Ratings(np.array([0, 1, 2, 0]), np.array([0, 5, 30, 31]),
                         np.ones(4, np.float32))
    sliced = metrics.slices(train, evaluation, num_users=3, num_movies=31)
    assert list(sliced) == ["all", "user_activity light (<50)", "user_activity medium (50-149)",
                            "user_activity heavy (150+)", "movie_popularity head",
                            "movie_popularity torso", "movie_popularity tail"]
    assert sliced["all"].all()
    np.testing.assert_array_equal(sliced["user_activity medium (50-149)"],
                                  [True, False, False, True])
    assert not sliced["user_activity heavy (150+)"].any()
    np.testing.assert_array_equal(sliced["movie_popularity head"], [True, False, False, False])
    np.testing.assert_array_equal(sliced["movie_popularity torso"], [False, True, True, False])
    # Movie 31 is the OOV index (no train rating): tail.
    np.testing.assert_array_equal(sliced["movie_popularity tail"], [False, False, False, True])


def test_rating_and_ranking_reports_by_slice_equal_their_definition():
    rng = np.random.default_rng(1)
    users, movies = rng.normal(size=(50, 4)), rng.normal(size=(30, 4))
    train = Ratings(rng.integers(0, 49, 3000), rng.zipf(1.5, 3000).clip(1, 30) - 1,
                    np.ones(3000, np.float32))
    evaluation = Ratings(rng.integers(0, 49, 400), rng.integers(0, 30, 400),
                         rng.choice([0.25, 1.0], 400).astype(np.float32))
    report = metrics.retrieval_report(lambda block: users[block] @ movies.T, train,
                                      evaluation, 49, 30)
    sliced = metrics.slices(train, evaluation, 49, 30)
    dense = users @ movies.T
    dense[metrics.seen_matrix(train, 49, 30).toarray()[:50, :30]] = -np.inf
    top10 = np.argsort(-dense, axis=1, kind="stable")[:, :10]
    assert report["coverage@10"] == len(np.unique(top10[np.unique(evaluation.user_index)])) / 30
    shown = 0
    for name, mask in sliced.items():
        by_slice = report["slices"][name]
        assert by_slice["ratings"] == mask.sum()
        if not mask.any():
            assert "top10_seen_excluded" not in by_slice
            continue
        shown += 1
        pairs = zip(evaluation.user_index[mask], evaluation.movie_index[mask])
        assert by_slice["top10_seen_excluded"] == pytest.approx(
            np.mean([m in top10[u] for u, m in pairs]))
        assert by_slice["coverage@10"] == pytest.approx(
            len(np.unique(top10[np.unique(evaluation.user_index[mask])])) / 30)
    assert shown >= 5, "the data fills most slices"
    assert report["slices"]["all"]["coverage@10"] == report["coverage@10"]
    predicted = rng.uniform(-0.5, 1.5, 400)
    rating = metrics.rating_report(predicted, evaluation, sliced)
    head = sliced["movie_popularity head"]
    assert rating["slices"]["movie_popularity head"]["rmse_stars"] == pytest.approx(
        4 * np.sqrt(np.mean((np.clip(predicted[head], 0, 1) - evaluation.rating[head]) ** 2)))
    both = metrics.combined(report, rating)
    assert both["slices"]["all"].keys() == {"ratings", "top10_seen_excluded", "coverage@10",
                                            "rmse_stars"}
    assert both["rmse_stars"] == rating["rmse_stars"] and both["ndcg@10"] == report["ndcg@10"]
