"""The serving SavedModel, built from a real Transform graph and a trained model, then run
the way TF Serving runs it: the session loader (serving/session_model.py)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from serving import contract
from serving.contract import MAX_BATCH
from trainer import export, warmup

# The `exported` fixture (tests/conftest.py) is a small model with top_k 5.


def _call(exported, signature, **inputs):
    """One request through TF Serving's path: session.run of the SignatureDef's tensors."""
    return exported["session"].run(signature, inputs)


def _call_tf2(exported, signature, **inputs):
    function = exported["loaded"].signatures[signature]
    return {k: v.numpy() for k, v in function(**{k: tf.constant(v, tf.string) for k, v in
                                                  inputs.items()}).items()}


def _requests(exported, ids):
    """Inputs for every signature, for the given user and movie ids (equal lengths)."""
    users, movies = ids
    return {
        "retrieve": dict(user_id=users),
        "recommend": dict(user_id=users),
        "rate": dict(user_id=users, movie_id=movies),
        "lookup_movie": dict(movie=movies),
        "serving_default": dict(examples=[warmup._example(u, m) for u, m in zip(users, movies)]),
    }


CASES = {
    "known": lambda e: (e["users"][:3], e["movie_ids"][:3]),
    "unknown": lambda e: (["stranger", e["users"][0], ""], [e["movie_ids"][1], "nope", "x"]),
    "empty": lambda e: ([], []),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("signature", ["retrieve", "recommend", "rate", "lookup_movie",
                                       "serving_default"])
def test_session_loader_matches_the_tf2_loader(exported, signature, case):
    inputs = _requests(exported, CASES[case](exported))[signature]
    served = _call(exported, signature, **inputs)
    expected = _call_tf2(exported, signature, **inputs)
    assert served.keys() == expected.keys()
    batch = len(next(iter(inputs.values())))
    for name, value in expected.items():
        assert served[name].shape == value.shape and value.shape[0] == batch
        if value.dtype == object:
            np.testing.assert_array_equal(served[name], value)
        else:
            np.testing.assert_allclose(served[name], value, rtol=1e-6)


def _embeddings(exported):
    """User vectors (from all their training movies, the validation slice included) and
    movie vectors, straight from the Keras model."""
    model = exported["model"]
    return model.all_user_vectors().numpy(), model.movie_embedding.embeddings.numpy()


def test_every_signature_is_exported_with_metadata(exported):
    signatures = {"retrieve", "rate", "recommend", "lookup_movie", "serving_default"}
    assert set(exported["session"].signatures) == signatures
    assert set(exported["loaded"].signatures) == signatures
    with open(os.path.join(exported["path"], "assets.extra", contract.METADATA_FILE)) as meta:
        metadata = json.load(meta)
    assert metadata["top_k"] == 5 and metadata["max_batch"] == MAX_BATCH


def test_retrieve_matches_an_exact_brute_force_without_seen_movies(exported):
    users = exported["users"][:6]
    got = _call(exported, "retrieve", user_id=users)
    assert got["movie_ids"].shape == got["titles"].shape == got["scores"].shape == (6, 5)
    assert got["scores"].dtype == np.float32 and got["movie_ids"].dtype == object
    user_vectors, movie_vectors = _embeddings(exported)
    num_movies = len(exported["movie_ids"])
    scores = user_vectors[:6] @ movie_vectors[:num_movies].T
    ratings = exported["ratings"]
    for row in range(6):
        seen = ratings.movie_index[ratings.user_index == row]
        scores[row, seen] = -np.inf
        expected = np.argsort(-scores[row], kind="stable")[:5]
        assert [m.decode() for m in got["movie_ids"][row]] == [
            exported["movie_ids"][i] for i in expected]
        np.testing.assert_allclose(got["scores"][row], scores[row, expected], rtol=1e-5)
    titles = exported["catalogue"].titles
    assert got["titles"][0][0].decode() == titles[exported["movie_ids"].index(
        got["movie_ids"][0][0].decode())]


def test_unknown_user_gets_the_most_popular_movies_and_says_so(exported):
    got = _call(exported, "retrieve", user_id=["no-such-user", exported["users"][0]])
    counts = exported["catalogue"].movie_counts
    returned = [exported["movie_ids"].index(m.decode()) for m in got["movie_ids"][0]]
    assert sorted(counts[returned], reverse=True) == sorted(counts, reverse=True)[:5]
    np.testing.assert_array_equal(got["personalized"], [False, True])
    np.testing.assert_allclose(got["scores"][0], np.log1p(counts[returned]), rtol=1e-6)


def test_rate_refuses_inputs_of_different_lengths_with_a_clear_message(exported):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="user_id and movie_id must have the same length"):
        _call(exported, "rate", user_id=exported["users"][:2], movie_id=exported["movie_ids"][:3])


def test_lookup_movie_finds_ids_and_titles_in_any_case(exported):
    catalogue, movie_ids = exported["catalogue"], exported["movie_ids"]
    title = str(catalogue.titles[3])
    without_year = title.rsplit(" (", 1)[0]
    got = _call(exported, "lookup_movie",
                movie=[movie_ids[2], title.upper(), f"  {without_year.lower()} ", "no such film"])
    np.testing.assert_array_equal(got["movie_id"], [m.encode() for m in (
        movie_ids[2], movie_ids[3], movie_ids[3], "")])
    assert got["title"][1].decode() == title and got["title"][3] == b""


def test_lookup_keys_prefer_ids_then_the_most_rated_of_equal_titles():
    catalogue = export.Catalogue(
        movie_ids=np.array(["7", "8", "9"], dtype=object),
        titles=np.array(["Twin (1990)", "Twin (1990)", "7"], dtype=object),
        movie_counts=np.array([3, 10, 1]), movie_mean_rating=np.zeros(3, np.float32),
        global_mean_rating=0.5)
    keys = export.movie_lookup_keys(catalogue)
    assert keys["twin (1990)"] == 1 and keys["twin"] == 1  # the more rated twin
    assert keys["7"] == 0  # the id, not movie 9's title "7"


def test_rate_agrees_with_the_keras_model_on_the_1_to_5_scale(exported):
    users, movies = exported["users"][:4], exported["movie_ids"][:4]
    got = _call(exported, "rate", user_id=users, movie_id=movies)["rating"]
    assert got.shape == (4,) and got.dtype == np.float32
    model = exported["model"]
    index = tf.constant([0, 1, 2, 3], tf.int64)
    expected = model.rate(tf.gather(model.all_user_vectors(), index),
                          model.movie_vectors(index), index, index).numpy()
    np.testing.assert_allclose(got, 1 + 4 * np.clip(expected, 0, 1), rtol=1e-5)
    assert ((got >= 1) & (got <= 5)).all()


def test_rate_with_unknown_ids_falls_back_to_training_means(exported):
    catalogue = exported["catalogue"]
    got = _call(exported, "rate", user_id=["stranger", exported["users"][0]],
                movie_id=[exported["movie_ids"][2], "no-such-movie"])["rating"]
    np.testing.assert_allclose(got, [1 + 4 * catalogue.movie_mean_rating[2],
                                     1 + 4 * catalogue.global_mean_rating], rtol=1e-5)


def test_recommend_reorders_the_retrieved_movies_by_rating(exported):
    user = exported["users"][1]
    retrieved = _call(exported, "retrieve", user_id=[user])
    got = _call(exported, "recommend", user_id=[user])
    assert sorted(got["movie_ids"][0]) == sorted(retrieved["movie_ids"][0])
    assert (np.diff(got["ratings"][0]) <= 0).all()
    rated = _call(exported, "rate", user_id=[user] * 5,
                  movie_id=[m.decode() for m in got["movie_ids"][0]])["rating"]
    np.testing.assert_allclose(got["ratings"][0], rated, rtol=1e-5)


def test_serving_default_reads_examples_for_the_evaluator(exported):
    user = exported["users"][0]
    top = [m.decode() for m in _call(exported, "retrieve", user_id=[user])["movie_ids"][0]]
    outside = next(m for m in exported["movie_ids"] if m not in top)
    examples = [warmup._example(user, movie) for movie in (top[0], top[-1], outside)]
    got = _call(exported, "serving_default", examples=examples)
    np.testing.assert_array_equal(got["top_k_hit"], [1.0, 1.0, 0.0])
    # The top k it counts hits in, as catalogue rows, for the Evaluator's coverage.
    rows = [exported["movie_ids"].index(movie) for movie in top]
    assert got["top_k_movies"].tolist() == [rows] * 3
    assert got["catalogue_size"].tolist() == [len(exported["movie_ids"])] * 3
    assert got["baseline_top_k_movies"].shape == (3, len(top))
    rated = _call(exported, "rate", user_id=[user] * 3,
                  movie_id=[top[0], top[-1], outside])["rating"]
    np.testing.assert_allclose(got["rating"], rated, rtol=1e-5)


def test_warmup_requests_replay_against_every_signature(exported):
    path = os.path.join(exported["path"], contract.ASSETS_EXTRA, contract.WARMUP_FILE)
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(path)]
    names = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert sorted(names) == sorted(exported["session"].signatures)
    for log in logs:  # as TF Serving replays them at load: through the session
        request = log.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        outputs = _call(exported, request.model_spec.signature_name, **inputs)
        assert all(len(v) == 1 for v in outputs.values())


def test_retrieve_can_keep_seen_movies(exported):
    module = export.RecommenderModule(exported["model"], exported["transform_layer"],
                                      exported["catalogue"], top_k=5, exclude_seen=False)
    got = module.retrieve(tf.constant([exported["users"][0]]))
    user_vectors, movie_vectors = _embeddings(exported)
    scores = user_vectors[0] @ movie_vectors[: len(exported["movie_ids"])].T
    expected = [exported["movie_ids"][i] for i in np.argsort(-scores, kind="stable")[:5]]
    assert [m.decode() for m in got["movie_ids"].numpy()[0]] == expected


def test_export_writes_to_non_local_file_systems(exported, tmp_path):
    """On Kubeflow the model directory is on gs://; ram:// stands in for it here."""
    module = export.RecommenderModule(exported["model"], exported["transform_layer"],
                                      exported["catalogue"], top_k=5)
    target = f"ram://{tmp_path.name}/serving"
    export.export(module, target, exported["users"][0], exported["movie_ids"][0])
    extra = f"{target}/assets.extra"
    assert sorted(tf.io.gfile.listdir(extra)) == [contract.METADATA_FILE, contract.WARMUP_FILE]
    with tf.io.gfile.GFile(f"{extra}/{contract.METADATA_FILE}") as saved:
        assert json.load(saved)["top_k"] == 5


def test_no_graph_constant_grows_with_the_ratings(exported):
    """Tables are variables: TF Serving refuses a graph over 2 GB, and ml-25m has 25M
    ratings. The largest constant (the title lookup's keys) grows with the movies only."""
    from tensorflow.core.protobuf import saved_model_pb2

    with open(os.path.join(exported["path"], "saved_model.pb"), "rb") as graph_file:
        saved = saved_model_pb2.SavedModel.FromString(graph_file.read())
    graph = saved.meta_graphs[0].graph_def
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    sizes = [int(np.prod([d.size for d in n.attr["value"].tensor.tensor_shape.dim]))
             for n in nodes if n.op == "Const"]
    assert max(sizes) <= 3 * len(exported["movie_ids"]) < len(exported["ratings"])


@pytest.mark.parametrize("signature", sorted(MAX_BATCH))
def test_a_batch_above_a_signatures_limit_is_refused_naming_it(exported, signature):
    limit = MAX_BATCH[signature]
    users = (exported["users"] * limit)[:limit]
    movies = (exported["movie_ids"] * limit)[:limit]
    inputs = _requests(exported, (users, movies))[signature]
    answered = _call(exported, signature, **inputs)  # exactly the limit: answered
    assert {len(value) for value in answered.values()} == {limit}
    over = {name: values + values[:1] for name, values in inputs.items()}
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        _call(exported, signature, **over)
    assert f"{signature}: at most {limit:,} " in str(error.value)
    assert f"this one has] [{limit + 1}]" in str(error.value)


def test_bytes_that_are_not_utf8_are_unknown_ids_in_every_signature(exported):
    got = _call(exported, "lookup_movie", movie=[b"\xff", b"caf\xe9"])
    assert got["movie_id"].tolist() == [b"", b""] and got["title"].tolist() == [b"", b""]
    rated = _call(exported, "rate", user_id=[b"\xff", exported["users"][0]],
                  movie_id=[exported["movie_ids"][0], b"\xfe\xff"])
    catalogue = exported["catalogue"]
    np.testing.assert_allclose(rated["rating"], [
        1 + 4 * catalogue.movie_mean_rating[0], 1 + 4 * catalogue.global_mean_rating],
        rtol=1e-5)
    assert not _call(exported, "recommend", user_id=[b"\xff"])["personalized"][0]
