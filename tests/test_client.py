"""The client against the stand-in TF Serving (REST and gRPC) and on disk, and its commands.

The stand-in runs the exported model through TF Serving's session path; the client must give
the same plain-Python answers through each transport, and one-line errors.
"""

import http.server
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from bench.stand_in_server import StandInServer
from pipeline import cli
from serving import client, servable
from trainer import export


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    """Version 1 returns 5 movies a user, version 2 (the newest) 3; label "stable" is 1."""
    base = tmp_path_factory.mktemp("serving") / "movielens"
    shutil.copytree(exported["path"], base / "1")
    module = export.RecommenderModule(exported["model"], exported["transform_layer"],
                                      exported["catalogue"], top_k=3)
    export.export(module, str(base / "2"), exported["users"][0], exported["movie_ids"][0])
    with StandInServer(str(base), labels={"stable": 1}) as running:
        yield dict(running=running, base=str(base))


def _transport(server, kind, **spec):
    model = client.ModelSpec(**spec)
    running = server["running"]
    return {
        "rest": lambda: client.RestTransport(running.rest_url, model),
        "rest-rows": lambda: client.RestTransport(running.rest_url, model, row_format=True),
        "grpc": lambda: client.GrpcTransport(running.grpc_target, model),
        "disk": lambda: client.LocalTransport(server["base"], spec.get("version")),
    }[kind]()


@pytest.fixture(scope="module")
def transports(server):
    return {kind: _transport(server, kind) for kind in ("rest", "rest-rows", "grpc", "disk")}


KINDS = ["rest", "rest-rows", "grpc"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_signature_answers_as_on_disk(transports, exported, kind):
    users, movies = exported["users"][:3] + ["stranger"], exported["movie_ids"][:4]
    requests = {"retrieve": {"user_id": users}, "recommend": {"user_id": users},
                "rate": {"user_id": users, "movie_id": movies},
                "lookup_movie": {"movie": movies + ["no such title"]}}
    for signature, inputs in requests.items():
        got = transports[kind].predict(signature, inputs)
        expected = transports["disk"].predict(signature, inputs)
        assert sorted(got) == sorted(expected), signature
        for name, value in expected.items():
            if value.dtype == object:  # bytes over gRPC and on disk, str from JSON
                assert [v.decode() for v in value.ravel()] == [
                    v.decode() if isinstance(v, bytes) else v for v in got[name].ravel()]
            else:
                np.testing.assert_allclose(got[name], value, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS + ["disk"])
def test_recommender_gives_plain_python_results(transports, exported, kind):
    recommender = client.Recommender(transports[kind])
    known, unknown = recommender.recommend([exported["users"][0], "stranger"], k=3)
    assert (known.personalized, unknown.personalized) == (True, False)
    assert len(known.movies) == 3
    first = known.movies[0]
    assert isinstance(first.movie_id, str) and isinstance(first.title, str)
    assert first.title == exported["catalogue"].titles[exported["movie_ids"].index(
        first.movie_id)]
    assert [m.stars for m in known.movies] == sorted((m.stars for m in known.movies),
                                                     reverse=True)
    assert all(1.0 <= m.stars <= 5.0 for m in known.movies)
    pairs = [(exported["users"][0], m.movie_id) for m in known.movies]
    np.testing.assert_allclose(recommender.rate(pairs), [m.stars for m in known.movies],
                               rtol=1e-5)
    title = exported["catalogue"].titles[1]
    assert recommender.find_movies([title.lower(), "nothing like it"]) == [
        (exported["movie_ids"][1], title), None]
    assert recommender.recommend([]) == [] and recommender.rate([]) == []


def test_k_beyond_the_exported_top_k_is_refused(transports, exported):
    with pytest.raises(client.BadRequest, match="k must be between 1 and 3"):
        client.Recommender(transports["rest"]).recommend([exported["users"][0]], k=4)


@pytest.mark.parametrize("kind", ["rest", "grpc"])
def test_status_and_metadata(transports, kind):
    transport = transports[kind]
    assert transport.status() == [{"version": 2, "state": "AVAILABLE", "error": ""},
                                  {"version": 1, "state": "AVAILABLE", "error": ""}]
    metadata = transport.metadata()
    assert set(metadata) == {"retrieve", "rate", "recommend", "lookup_movie", "serving_default"}
    assert set(metadata["rate"]["inputs"]) == {"user_id", "movie_id"}
    assert metadata["rate"]["outputs"] == {"rating": "DT_FLOAT"}


@pytest.mark.parametrize("kind", ["rest", "rest-rows", "grpc", "disk"])
def test_a_version_or_a_label_picks_the_model(server, exported, kind):
    def movies_per_user(**spec):
        transport = _transport(server, kind, **spec)
        return transport.predict("retrieve", {"user_id": exported["users"][:1]})["scores"].shape

    assert movies_per_user() == (1, 3)  # the newest version
    assert movies_per_user(version=1) == (1, 5)
    if kind != "disk":
        assert movies_per_user(label="stable") == (1, 5)


@pytest.mark.parametrize("kind", ["rest", "grpc"])
@pytest.mark.parametrize("spec, error, message", [
    (dict(name="nope"), client.NotFound, r"Servable not found for request: Latest\(nope\)"),
    (dict(version=9), client.NotFound, r"Specific\(movielens, 9\)"),
    (dict(label="canary"), client.BadRequest, "Unrecognized servable version label: canary"),
])
def test_unknown_model_version_or_label_is_one_clear_line(server, kind, spec, error, message):
    transport = _transport(server, kind, **spec)
    with pytest.raises(error, match=message) as raised:
        transport.predict("retrieve", {"user_id": ["1"]})
    assert "\n" not in str(raised.value) and "TF Serving at" in str(raised.value)


@pytest.mark.parametrize("kind", ["rest", "grpc", "disk"])
def test_unknown_signature_is_not_found(transports, kind):
    with pytest.raises(client.NotFound, match="nope"):
        transports[kind].predict("nope", {"user_id": ["1"]})


@pytest.mark.parametrize("kind", ["rest", "grpc", "disk"])
def test_malformed_requests_are_bad_requests_in_one_line(transports, exported, kind):
    with pytest.raises(client.BadRequest) as wrong_name:
        transports[kind].predict("retrieve", {"user": ["1"]})
    with pytest.raises(client.BadRequest, match="must have the same length") as lengths:
        transports[kind].predict("rate", {"user_id": exported["users"][:2],
                                          "movie_id": exported["movie_ids"][:3]})
    assert "\n" not in str(wrong_name.value) + str(lengths.value)


@pytest.mark.parametrize("kind", KINDS + ["disk"])
def test_ids_that_are_not_utf8_are_unknown_ids_not_errors(transports, kind):
    recommender = client.Recommender(transports[kind])
    # b"\xff" as bytes, and as the command line hands it over (a surrogate escape)
    for user in (b"\xff", b"\xff".decode("utf-8", "surrogateescape")):
        [result] = recommender.recommend([user])
        assert not result.personalized


@pytest.mark.parametrize("kind", ["rest", "grpc", "disk"])
def test_inputs_of_the_wrong_type_or_shape_are_bad_requests(transports, kind):
    with pytest.raises(client.BadRequest):
        transports[kind].predict("retrieve", {"user_id": [7]})
    with pytest.raises(client.BadRequest):
        transports[kind].predict("retrieve", {"user_id": [["1"], ["2", "3"]]})
    if kind != "rest":  # JSON's [] has no type; a typed empty tensor of floats is refused
        with pytest.raises(client.BadRequest, match="float"):
            transports[kind].predict("retrieve", {"user_id": np.array([], np.float32)})


def test_on_disk_the_newest_complete_version_is_used(server, tmp_path):
    base = tmp_path / "movielens"
    shutil.copytree(server["base"] + "/1", base / "1")
    (base / "7" / "variables").mkdir(parents=True)  # a push still copying, or broken
    assert client.newest_version(str(base)) == str(base / "1")
    (base / "7" / "saved_model.pb").write_bytes(b"not a graph")
    with pytest.raises(client.ServingError, match="does not load as TF Serving loads it"):
        client.LocalTransport(str(base))


def test_a_corrupt_warmup_file_is_not_servable(server, tmp_path):
    version = tmp_path / "1"
    shutil.copytree(server["base"] + "/1", version)
    (version / servable.WARMUP_PATH).write_bytes(b"not a TFRecord file at all")
    with pytest.raises(servable.NotServable, match="is unreadable"):
        servable.check(str(version))


def test_row_format_rejects_an_empty_batch_as_tf_serving_does(server):
    transport = client.RestTransport(server["running"].rest_url, row_format=True)
    with pytest.raises(client.BadRequest, match="No values in 'instances' array"):
        transport.predict("retrieve", {"user_id": []})


def test_rest_errors_of_the_url_itself(server):
    import requests

    url = server["running"].rest_url
    assert requests.get(f"{url}/v1/models/movielens:predict").json() == {
        "error": "Malformed request: GET /v1/models/movielens:predict"}
    assert requests.get(f"{url}/healthz").status_code == 404
    broken = requests.post(f"{url}/v1/models/movielens:predict", data="{not json")
    assert broken.status_code == 400 and broken.json()["error"].startswith("JSON Parse error")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_server_is_retried_a_bounded_number_of_times():
    port = _free_port()  # nothing listens there
    with pytest.raises(client.BadRequest, match="must look like http://HOST:PORT"):
        client.RestTransport(f"127.0.0.1:{port}")
    for transport in (client.RestTransport(f"http://127.0.0.1:{port}", attempts=2),
                      client.GrpcTransport(f"127.0.0.1:{port}", attempts=2, timeout=2)):
        started = time.monotonic()
        with pytest.raises(client.Unreachable, match="unavailable after 2 attempt"):
            transport.predict("retrieve", {"user_id": ["1"]})
        assert time.monotonic() - started < 10


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers POSTs with the statuses of `script` in turn (a server under load), or sleeps."""

    script: list = []
    calls: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = self.script[len(self.calls)] if len(self.calls) < len(self.script) else 200
        self.calls.append(status)
        if status == "sleep":
            time.sleep(1.5)
            status = 200
        body = b'{"outputs": {"x": [1]}}' if status == 200 else b'{"error": "busy"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def scripted():
    def start(script):
        handler = type("Handler", (_Scripted,), {"script": script, "calls": []})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}", handler.calls
    servers = []
    yield start
    for httpd in servers:
        httpd.shutdown()


def test_only_unavailable_is_retried(scripted):
    url, calls = scripted([503, 503])
    assert client.RestTransport(url, attempts=3).predict("s", {"x": [1]})["x"].tolist() == [1]
    assert calls == [503, 503, 200]
    url, calls = scripted([503, 503, 503])
    with pytest.raises(client.Unreachable, match="unavailable after 2 attempt.*busy"):
        client.RestTransport(url, attempts=2).predict("s", {"x": [1]})
    assert calls == [503, 503]
    url, calls = scripted([400])
    with pytest.raises(client.BadRequest, match="busy"):
        client.RestTransport(url, attempts=3).predict("s", {"x": [1]})
    assert calls == [400]


def test_grpc_retries_only_unavailable():
    from concurrent import futures

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    class Scripted(prediction_service_pb2_grpc.PredictionServiceServicer):
        def __init__(self, script):
            self.script, self.calls = script, []

        def Predict(self, request, context):  # noqa: N802
            code = self.script[len(self.calls)] if len(self.calls) < len(self.script) else None
            self.calls.append(code)
            if code is not None:
                context.abort(code, "scripted")
            return predict_pb2.PredictResponse()

    for script, attempts, expected_calls, error in [
            ([grpc.StatusCode.UNAVAILABLE] * 2, 3, 3, None),
            ([grpc.StatusCode.UNAVAILABLE] * 3, 2, 2, client.Unreachable),
            ([grpc.StatusCode.INVALID_ARGUMENT], 3, 1, client.BadRequest),
            ([grpc.StatusCode.INTERNAL], 3, 1, client.ServingError)]:
        servicer = Scripted(script)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        transport = client.GrpcTransport(f"127.0.0.1:{port}", attempts=attempts)
        try:
            if error is None:
                assert transport.predict("s", {"x": [1.0]}) == {}
            else:
                with pytest.raises(error, match="scripted"):
                    transport.predict("s", {"x": [1.0]})
        finally:
            transport.close()
            server.stop(None)
        assert len(servicer.calls) == expected_calls, script


def test_a_slow_server_times_out_without_retry(scripted):
    url, calls = scripted(["sleep"])
    with pytest.raises(client.Unreachable, match="no answer within 0.5 s"):
        client.RestTransport(url, timeout=0.5, attempts=3).predict("s", {"x": [1]})
    assert calls == ["sleep"]


# ------------------------------------------------------------------------------- commands


@pytest.mark.parametrize("where", ["--server", "--grpc", "--model-dir"])
def test_recommend_command_prints_titles_and_stars(server, exported, capsys, where):
    running = server["running"]
    target = {"--server": running.rest_url, "--grpc": running.grpc_target,
              "--model-dir": server["base"]}[where]
    user = exported["users"][0]
    assert cli.main(["recommend", "--user", user, "stranger", "--k", "3", where, target]) == 0
    printed = capsys.readouterr().out
    [expected] = client.Recommender(client.LocalTransport(server["base"])).recommend([user], 3)
    for movie in expected.movies:
        assert f"{movie.stars:>5.2f}  {movie.movie_id:>6}  {movie.title}" in printed
    assert "User 'stranger' is not in the model's training data" in printed


def test_rate_command_takes_ids_and_titles(server, exported, capsys):
    user, movie = exported["users"][0], exported["movie_ids"][1]
    title = exported["catalogue"].titles[1]
    assert cli.main(["rate", "--user", user, "--movie", movie, title.upper(),
                     "--server", server["running"].rest_url]) == 0
    printed = capsys.readouterr().out
    [stars] = client.Recommender(client.LocalTransport(server["base"])).rate([(user, movie)])
    assert printed.count(f"{stars:.2f} stars  movie {movie}  {title}") == 2


def test_commands_fail_in_one_line(server, capsys):
    assert cli.main(["rate", "--user", "1", "--movie", "No Such Film",
                     "--model-dir", server["base"]]) == 2
    assert "no movie with id or title 'No Such Film'" in capsys.readouterr().err
    assert cli.main(["recommend", "--user", "1", "--server",
                     f"http://127.0.0.1:{_free_port()}", "--timeout", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("movielens-tfx recommend: error: TF Serving at") and "\n" not in error
    assert cli.main(["recommend", "--user", "1", "--model-dir", "/no/such/dir"]) == 2
    assert "no model directory /no/such/dir" in capsys.readouterr().err


@pytest.mark.parametrize("kind", KINDS + ["disk"])
def test_a_request_above_the_limit_is_a_bad_request_naming_it(transports, exported, kind):
    users = (exported["users"] * 1025)[:1025]
    with pytest.raises(client.BadRequest) as error:
        transports[kind].predict("retrieve", {"user_id": users})
    assert "retrieve: at most 1,024 user ids a request" in str(error.value)
    assert "\n" not in str(error.value)


class _Counting:
    """A real transport that counts its requests and their sizes."""

    def __init__(self, transport):
        self.transport, self.sizes = transport, []

    def predict(self, signature, inputs):
        self.sizes.append((signature, len(next(iter(inputs.values())))))
        return self.transport.predict(signature, inputs)


@pytest.mark.parametrize("kind", ["grpc", "disk"])
def test_the_recommender_splits_a_long_list_into_requests_within_the_limits(
        transports, exported, kind):
    counting = _Counting(transports[kind])
    recommender = client.Recommender(counting)
    users = (exported["users"] + ["stranger", b"\xff"]) * 60
    results = recommender.recommend(users[:2_100])
    assert counting.sizes == [("recommend", 1_024), ("recommend", 1_024), ("recommend", 52)]
    assert len(results) == 2_100
    assert results[2_099] == recommender.recommend([users[2_099]])[0]
    assert [r.user_id for r in results[:3]] == [str(u) for u in users[:3]]
    counting.sizes.clear()
    pairs = [(u, m) for u, m in zip(users, exported["movie_ids"] * 100)] * 140
    ratings = recommender.rate(pairs[:16_385])
    assert counting.sizes == [("rate", 16_384), ("rate", 1)]
    assert ratings[-1] == pytest.approx(recommender.rate([pairs[16_384]])[0], rel=1e-6)
    assert all(1.0 <= r <= 5.0 for r in ratings)


@pytest.mark.parametrize("kind", KINDS + ["disk"])
def test_bytes_that_are_not_utf8_are_unknown_in_every_call(transports, exported, kind):
    recommender = client.Recommender(transports[kind])
    assert recommender.find_movies([b"\xff"]) == [None]
    [rating] = recommender.rate([(exported["users"][0], b"caf\xe9")])
    assert rating == pytest.approx(1 + 4 * exported["catalogue"].global_mean_rating, rel=1e-5)


@pytest.mark.parametrize("kind", ["rest", "grpc", "disk"])
def test_an_empty_batch_gets_empty_answers_from_every_signature(transports, kind):
    for signature, names in {"retrieve": ["user_id"], "recommend": ["user_id"],
                             "rate": ["user_id", "movie_id"], "lookup_movie": ["movie"]}.items():
        answer = transports[kind].predict(signature, {name: [] for name in names})
        assert answer and all(len(value) == 0 for value in answer.values()), (kind, signature)
