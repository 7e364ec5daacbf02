"""The peers of the multi-task model in the experiments: well-kept library models, each
tuned on a holdout carved from train and scored with the project's own metric code.

Ranking peers, trained on the binary "rated in training" matrix: EASE (Steck 2019) and BPR
from cornac; from implicit, ItemKNN (cosine, the K nearest movies of each movie, scores
summed over the user's movies; cornac's ItemKNN predicts a rating as a weighted mean, which
ranks every movie of a binary matrix alike) and iALS (Hu, Koren and Volinsky 2008:
alternating least squares on the confidence-weighted binary matrix). Rating peers
(scikit-surprise): SVD (biased matrix factorisation) and SVD++. Every peer sees the same split
and the same train vocabularies as the model (`Ratings` indices); unknown users get the
most-popular ranking or the global mean.

The three libraries are an optional extra: `pip install -e '.[bench]'` (the lock pins
them).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import warnings
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from common.config_error import ConfigError
from trainer import metrics
from trainer.data import Ratings

HOLDOUT_FRACTION = 0.2  # of train, to pick each peer's hyper-parameters
RANKING = "ranking"
RATING = "rating"


class PeersUnavailable(ConfigError):
    """A peer's library is not installed."""


@dataclasses.dataclass(frozen=True)
class Peer:
    """A library model of the comparison: its name, kind, hyper-parameter grid, fixed
    parameters and the function that fits it."""

    name: str
    kind: str  # RANKING (scored by the retrieval metrics) or RATING (by RMSE)
    grid: Dict[str, Sequence[Any]]  # hyper-parameters tried on the holdout
    fixed: Dict[str, Any]  # passed as they are
    fit: Callable[..., Any]  # (train, num_users, num_movies, seed, **params) -> scorer/predictor

    def candidates(self) -> List[Dict[str, Any]]:
        """Every combination of the grid's values, as one dict of hyper-parameters each."""
        names = sorted(self.grid)
        return [dict(zip(names, values))
                for values in itertools.product(*(self.grid[n] for n in names))]


def _cornac():
    try:
        import cornac
    except ImportError as error:
        raise PeersUnavailable("EASE and BPR need cornac: pip install -e '.[bench]'"
                               ) from error
    return cornac


def _implicit():
    try:
        import implicit.als
        import implicit.nearest_neighbours
    except ImportError as error:
        raise PeersUnavailable("ItemKNN and iALS need implicit: pip install -e '.[bench]'"
                               ) from error
    return implicit


def _surprise():
    try:
        import surprise
    except ImportError as error:
        raise PeersUnavailable("the rating peers need scikit-surprise: pip install -e "
                               "'.[bench]'") from error
    return surprise


def _with_fallbacks(train: Ratings, num_users: int, num_movies: int,
                    known_scores) -> metrics.Scorer:
    """A Scorer from `known_scores(users) -> scores` for users with training ratings;
    other users (the OOV index included) get the most-popular ranking, and a movie without
    training ratings is never recommended to anyone."""
    popular = metrics.most_popular_scorer(train, num_movies)
    rated = np.bincount(train.user_index, minlength=num_users + 1) > 0
    unrated = np.bincount(train.movie_index, minlength=num_movies)[:num_movies] == 0

    def score(users: np.ndarray) -> np.ndarray:
        out = np.array(popular(users), dtype=np.float32)
        known = np.flatnonzero(rated[users])
        if len(known):
            out[known] = known_scores(users[known])
        out[:, unrated] = -np.inf
        return out

    return score


def _binary_matrix(train: Ratings, num_users: int, num_movies: int):
    import scipy.sparse as sparse

    matrix = sparse.csr_matrix((np.ones(len(train), np.float32),
                                (train.user_index, train.movie_index)),
                               shape=(num_users, num_movies))
    matrix.data[:] = 1.0  # a pair rated twice counts once
    return matrix


def _cornac_scorer(model_class, train: Ratings, num_users: int, num_movies: int, seed: int,
                   **params) -> metrics.Scorer:
    """A cornac model fitted on the binary training matrix, as a Scorer over our indices."""
    cornac = _cornac()
    triples = list(zip(train.user_index.tolist(), train.movie_index.tolist(),
                       itertools.repeat(1.0)))
    dataset = cornac.data.Dataset.from_uir(triples, seed=seed)
    model = model_class(**params, seed=seed, verbose=False)
    model.fit(dataset)
    # Column j of a cornac score row is the movie whose cornac index is j.
    ours = np.array(list(dataset.iid_map.keys()), dtype=np.int64)
    theirs = np.array(list(dataset.iid_map.values()), dtype=np.int64)

    def known_scores(users: np.ndarray) -> np.ndarray:
        rows = np.zeros((len(users), num_movies), dtype=np.float32)
        for row, user in enumerate(users.tolist()):
            scores = np.asarray(model.score(dataset.uid_map[user]), dtype=np.float32)
            rows[row, ours] = scores.ravel()[theirs]
        return rows

    return _with_fallbacks(train, num_users, num_movies, known_scores)


EASE_MAX_MOVIES = 20_000  # EASE inverts a dense movies x movies matrix: 3.2 GB at 20,000


def _ease(train, num_users, num_movies, seed, **params):
    if num_movies > EASE_MAX_MOVIES:
        raise ConfigError(f"--peers EASE: {num_movies:,} movies; EASE inverts a dense "
                          f"movies x movies matrix and is run up to {EASE_MAX_MOVIES:,} "
                          "movies. Leave it out (--peers ItemKNN iALS BPR SVD SVD++).")
    return _cornac_scorer(_cornac().models.EASE, train, num_users, num_movies, seed, **params)


def _bpr(train, num_users, num_movies, seed, **params):
    return _cornac_scorer(_cornac().models.BPR, train, num_users, num_movies, seed, **params)


def _item_knn(train, num_users, num_movies, seed, **params):
    """implicit's CosineRecommender; `recommend` over the whole catalogue gives each movie's
    score by the library's own rule."""
    del seed  # deterministic
    model = _implicit().nearest_neighbours.CosineRecommender(**params, num_threads=1)
    matrix = _binary_matrix(train, num_users, num_movies)
    with warnings.catch_warnings():  # the library converts its own normalised matrix
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model.fit(matrix, show_progress=False)

    def known_scores(users: np.ndarray) -> np.ndarray:
        ids, scores = model.recommend(users, matrix[users], N=num_movies,
                                      filter_already_liked_items=False)
        rows = np.zeros((len(users), num_movies), dtype=np.float32)
        filled = ids >= 0  # the library pads a short result with id -1
        rows[np.nonzero(filled)[0], ids[filled]] = scores[filled]
        return rows

    return _with_fallbacks(train, num_users, num_movies, known_scores)


def _ials(train, num_users, num_movies, seed, **params):
    """implicit's AlternatingLeastSquares (conjugate-gradient solver); a user's score of a
    movie is the product of their factors."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, not BLAS's
        model = _implicit().als.AlternatingLeastSquares(**params, random_state=seed,
                                                         num_threads=1)
        model.fit(_binary_matrix(train, num_users, num_movies), show_progress=False)
    users, movies = np.asarray(model.user_factors), np.asarray(model.item_factors)
    return _with_fallbacks(train, num_users, num_movies,
                           lambda known: users[known] @ movies.T)


Predictor = Callable[[Ratings], np.ndarray]  # pairs -> predicted normalised ratings


def _surprise_predictor(algorithm_name: str, train: Ratings, seed: int,
                        **params) -> Predictor:
    """A scikit-surprise model fitted on the training stars, predicting [0, 1] ratings."""
    surprise = _surprise()
    import pandas

    frame = pandas.DataFrame({"user": train.user_index, "movie": train.movie_index,
                              "stars": 1.0 + 4.0 * train.rating.astype(np.float64)})
    data = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5)))
    algorithm = getattr(surprise, algorithm_name)(**params, random_state=seed)
    algorithm.fit(data.build_full_trainset())

    def predict(pairs: Ratings) -> np.ndarray:
        stars = [algorithm.predict(user, movie).est for user, movie in
                 zip(pairs.user_index.tolist(), pairs.movie_index.tolist())]
        return (np.asarray(stars, dtype=np.float64) - 1.0) / 4.0

    return predict


def _svd(train, num_users, num_movies, seed, **params):
    del num_users, num_movies
    return _surprise_predictor("SVD", train, seed, **params)


def _svdpp(train, num_users, num_movies, seed, **params):
    del num_users, num_movies
    return _surprise_predictor("SVDpp", train, seed, **params)


PEERS = (
    Peer("EASE", RANKING, {"lamb": (50, 100, 200, 400, 800, 1600, 3200)}, {"posB": False}, _ease),
    Peer("ItemKNN", RANKING, {"K": (20, 50, 100, 200, 400, 1000)}, {}, _item_knn),
    # Regularisation and the weight of an observed pair (alpha) over wide ranges, as Rendle
    # et al. tune them ("Revisiting the performance of iALS on item recommendation
    # benchmarks", 2022). Narrower grids had their optimum on an edge: ml-100k picked
    # alpha 20, regularisation 100; ml-1m alpha 5, regularisation 10.
    Peer("iALS", RANKING, {"factors": (64, 128), "regularization": (3.0, 10.0, 30.0, 100.0,
                                                                     300.0),
                           "alpha": (5.0, 20.0, 80.0)}, {"iterations": 15}, _ials),
    Peer("BPR", RANKING, {"k": (32, 64, 128), "lambda_reg": (0.001, 0.01, 0.1)},
         {"max_iter": 200, "learning_rate": 0.01}, _bpr),
    Peer("SVD", RATING, {"n_factors": (50, 100), "reg_all": (0.02, 0.05, 0.1)},
         {"n_epochs": 30}, _svd),
    Peer("SVD++", RATING, {"reg_all": (0.02, 0.05)}, {"n_epochs": 20, "cache_ratings": True},
         _svdpp),
)


def _validation_score(peer: Peer, fitted, rest: Ratings, held: Ratings, num_users: int,
                      num_movies: int) -> float:
    """Higher is better: NDCG@10 (training movies excluded) or minus RMSE, on the holdout."""
    if peer.kind == RANKING:
        seen = metrics.seen_matrix(rest, num_users, num_movies)
        return metrics.recall_and_ndcg_at_k(fitted, held, 10, seen)["ndcg@10"]
    return -metrics.rating_report(fitted(held), held)["rmse_unit"]


def tune_and_score(peer: Peer, train: Ratings, evaluation: Ratings, num_users: int,
                   num_movies: int, seed: int) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(eval metrics, chosen hyper-parameters): each candidate is fitted on train minus a
    seeded holdout and scored on that holdout; the best is refitted on all of train and
    only then scored on eval."""
    rest, held = train.split_off(HOLDOUT_FRACTION, seed=seed)
    best: Dict[str, Any] = {}
    best_score = -np.inf
    for params in peer.candidates():
        fitted = peer.fit(rest, num_users, num_movies, seed, **peer.fixed, **params)
        score = _validation_score(peer, fitted, rest, held, num_users, num_movies)
        if score > best_score:
            best, best_score = params, score
    started = time.monotonic()
    fitted = peer.fit(train, num_users, num_movies, seed, **peer.fixed, **best)
    seconds = time.monotonic() - started
    if peer.kind == RANKING:
        report = metrics.retrieval_report(fitted, train, evaluation, num_users, num_movies)
    else:
        report = metrics.rating_report(fitted(evaluation), evaluation,
                                       metrics.slices(train, evaluation, num_users, num_movies))
    report["train_seconds"] = seconds
    return report, best


def named(names: Sequence[str]) -> Tuple[Peer, ...]:
    """The peers that `--peers` names: "all", "none", or peer names; their libraries are
    imported here, so a missing one is reported before any training."""
    by_name = {peer.name: peer for peer in PEERS}
    if list(names) == ["none"]:
        return ()
    chosen: Tuple[Peer, ...] = PEERS if list(names) == ["all"] else ()
    if not chosen:
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ConfigError(f"--peers: unknown {', '.join(unknown)}; choose all, none or "
                              f"from {' '.join(by_name)}")
        chosen = tuple(by_name[name] for name in names)
    for peer in chosen:
        {"EASE": _cornac, "BPR": _cornac, "ItemKNN": _implicit, "iALS": _implicit}.get(
            peer.name, _surprise)()
    return chosen
