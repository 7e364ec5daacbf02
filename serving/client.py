"""Calling the pushed model: TF Serving over REST or gRPC, or a version directory on disk.

Three transports with one method, `predict(signature, inputs) -> {output: numpy array}`:

- `RestTransport`: `POST /v1/models/NAME[/versions/N | /labels/L]:predict`, in the columnar
  (`inputs`) or the row (`instances`) format; `status()` and `metadata()` by GET.
- `GrpcTransport`: `PredictionService.Predict` and `GetModelMetadata`, `ModelService.
  GetModelStatus`, with the stubs of tensorflow-serving-api.
- `LocalTransport`: the newest version under a model directory, run through TF Serving's
  session loader (serving/session_model.py); no server needed.

`Recommender` turns outputs into plain Python (str ids and titles, float stars). Every
failure is a `ServingError` with one readable line; only UNAVAILABLE (HTTP 503, a refused
connection, gRPC UNAVAILABLE) is retried, a bounded number of times.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from serving import contract

DEFAULT_TIMEOUT = 10.0  # seconds per attempt
DEFAULT_ATTEMPTS = 3  # for UNAVAILABLE only
_BACKOFF = 0.2  # seconds before the second attempt, doubled after each


class ServingError(Exception):
    """A request that did not succeed; str() is one line naming the server and the cause."""


class Unreachable(ServingError):
    """No server answered (refused, unavailable, or timed out)."""


class NotFound(ServingError):
    """The server has no such model, version, label or signature."""


class BadRequest(ServingError):
    """The server refused the request's content (TF Serving's INVALID_ARGUMENT and kin)."""


class _Unavailable(Exception):
    """Worth another attempt: the server said UNAVAILABLE or the connection was refused."""


def _with_retries(call: Callable[[], object], attempts: int, describe: str):
    delay = _BACKOFF
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except _Unavailable as error:
            if attempt == attempts:
                raise Unreachable(f"{describe}: unavailable after {attempts} attempt(s): "
                                  f"{error}") from None
            time.sleep(delay)
            delay *= 2


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def _signature_missing(message: str) -> bool:
    # REST: 'Serving signature name: "x" not found in signature def'; gRPC: 'Serving
    # signature key "x" not found.'
    return bool(re.search(r"[Ss]ignature (name|key):? \"[^\"]*\" not found", message))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Which model and version a server should answer with (at most one of version, label)."""

    name: str = contract.DEFAULT_MODEL_NAME
    version: Optional[int] = None
    label: Optional[str] = None

    def __post_init__(self) -> None:
        if self.version is not None and self.label is not None:
            raise ValueError("give a version or a label, not both")

    def __str__(self) -> str:
        if self.version is not None:
            return f"model {self.name!r} version {self.version}"
        if self.label is not None:
            return f"model {self.name!r} label {self.label!r}"
        return f"model {self.name!r}"


# ---------------------------------------------------------------------------------------- REST


def _raw_bytes(value) -> bytes:
    """str -> its bytes; a command-line argument that is not UTF-8 keeps its raw bytes (Python
    hands them over as surrogates)."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")


def _json_value(value):
    """A JSON element; strings that are not UTF-8 go as {"b64": ...}, which TF Serving
    decodes for string inputs."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, bytes)):
        raw = _raw_bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(raw).decode("ascii")}
    return value


class RestTransport:
    """TF Serving's REST API at `base_url` (e.g. http://localhost:8501)."""

    def __init__(self, base_url: str, model: ModelSpec = ModelSpec(),
                 timeout: float = DEFAULT_TIMEOUT, attempts: int = DEFAULT_ATTEMPTS,
                 row_format: bool = False) -> None:
        import requests  # imported here: the --model-dir path never needs it

        if not re.match(r"https?://[^/]+", base_url):
            raise BadRequest(f"TF Serving's REST address must look like http://HOST:PORT, "
                             f"got {base_url!r}")
        self._requests = requests
        self._session = requests.Session()
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self.attempts = attempts
        self.row_format = row_format
        self._outputs: Dict[str, List[str]] = {}  # signature -> output names, from metadata

    def close(self) -> None:
        """Closes the HTTP session."""
        self._session.close()

    def _model_path(self) -> str:
        path = f"/v1/models/{self.model.name}"
        if self.model.version is not None:
            path += f"/versions/{self.model.version}"
        elif self.model.label is not None:
            path += f"/labels/{self.model.label}"
        return path

    def _call(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        url = self.base_url + path
        describe = f"TF Serving at {self.base_url}, {self.model}"

        def attempt() -> dict:
            try:
                response = self._session.request(
                    method, url, timeout=self.timeout,
                    data=None if body is None else json.dumps(body),
                    headers={"Content-Type": "application/json"})
            except self._requests.ConnectTimeout:
                raise Unreachable(f"{describe}: no connection within {self.timeout:g} s") \
                    from None
            except self._requests.ConnectionError as error:
                if _refused(error):  # nothing was sent: safe to try again
                    raise _Unavailable(f"connection to {self.base_url} refused") from None
                raise Unreachable(f"{describe}: the connection failed: {_one_line(error)}") \
                    from None
            except self._requests.Timeout:
                raise Unreachable(f"{describe}: no answer within {self.timeout:g} s") from None
            except self._requests.RequestException as error:
                raise ServingError(f"{describe}: {type(error).__name__}: {_one_line(error)}") \
                    from None
            if response.status_code == 503:
                raise _Unavailable(_error_text(response))
            if response.status_code != 200:
                message = _error_text(response)
                if response.status_code == 404 or _signature_missing(message):
                    raise NotFound(f"{describe}: {message}")
                if 400 <= response.status_code < 500:
                    raise BadRequest(f"{describe}: {message}")
                raise ServingError(f"{describe}: HTTP {response.status_code}: {message}")
            try:
                return json.loads(response.content.decode("utf-8", errors="replace"))
            except ValueError:
                raise ServingError(f"{describe}: the answer is not JSON: "
                                   f"{_one_line(response.text)[:200]}") from None

        return _with_retries(attempt, self.attempts, describe)

    def status(self) -> List[dict]:
        """Each version the server knows: {"version": int, "state": str, "error": str}."""
        answer = self._call("GET", self._model_path())
        return [{"version": int(v["version"]), "state": v["state"],
                 "error": v.get("status", {}).get("error_message", "")}
                for v in answer.get("model_version_status", [])]

    def metadata(self) -> Dict[str, dict]:
        """signature -> {"inputs": {name: dtype}, "outputs": {name: dtype}}."""
        answer = self._call("GET", self._model_path() + "/metadata")
        signatures = answer["metadata"]["signature_def"]["signature_def"]
        return {name: {side: {alias: info.get("dtype", "") for alias, info in
                              signature.get(side, {}).items()}
                       for side in ("inputs", "outputs")}
                for name, signature in signatures.items() if not name.startswith("__")}

    def _output_names(self, signature: str) -> List[str]:
        if signature not in self._outputs:
            signatures = self.metadata()
            if signature not in signatures:
                raise NotFound(f"TF Serving at {self.base_url}, {self.model}: no signature "
                               f"{signature!r}; it has {', '.join(sorted(signatures))}")
            self._outputs[signature] = sorted(signatures[signature]["outputs"])
        return self._outputs[signature]

    def predict(self, signature: str, inputs: Mapping[str, Sequence]) -> Dict[str, np.ndarray]:
        """The outputs of `signature` on `inputs`, by POST `:predict` in the columnar format (in
        the row format with `row_format`)."""
        columns = {name: [_json_value(v) for v in values] for name, values in inputs.items()}
        body: Dict[str, Any]
        if self.row_format:
            rows = len(next(iter(columns.values()))) if columns else 0
            body = {"signature_name": signature,
                    "instances": [{name: values[i] for name, values in columns.items()}
                                  for i in range(rows)]}
        else:
            body = {"signature_name": signature, "inputs": columns}
        answer = self._call("POST", self._model_path() + ":predict", body)
        if self.row_format:
            return _from_rows(answer["predictions"], self._output_names(signature))
        outputs = answer["outputs"]
        if not isinstance(outputs, dict):  # one output: TF Serving leaves out its name
            [name] = self._output_names(signature)
            outputs = {name: outputs}
        return {name: np.asarray(value) for name, value in outputs.items()}


def _refused(error: Exception) -> bool:
    from urllib3.exceptions import NewConnectionError

    reason = getattr(error.args[0] if error.args else None, "reason", None)
    return isinstance(reason, NewConnectionError)


def _from_rows(predictions: list, names: List[str]) -> Dict[str, np.ndarray]:
    if len(names) == 1:  # one output: each row is its value
        return {names[0]: np.asarray(predictions)}
    return {name: np.asarray([row[name] for row in predictions]) for name in names}


def _error_text(response) -> str:
    try:
        return _one_line(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return _one_line(f"HTTP {response.status_code} {response.reason}: {response.text[:200]}")


# ---------------------------------------------------------------------------------------- gRPC


class GrpcTransport:
    """TF Serving's gRPC API at `target` (e.g. localhost:8500)."""

    def __init__(self, target: str, model: ModelSpec = ModelSpec(),
                 timeout: float = DEFAULT_TIMEOUT, attempts: int = DEFAULT_ATTEMPTS) -> None:
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        self._grpc = grpc
        self.target = target
        self.model = model
        self.timeout = timeout
        self.attempts = attempts
        self._channel = grpc.insecure_channel(target)
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def close(self) -> None:
        """Closes the gRPC channel."""
        self._channel.close()

    def _spec(self, signature: str = ""):
        from google.protobuf import wrappers_pb2
        from tensorflow_serving.apis import model_pb2

        spec = model_pb2.ModelSpec(name=self.model.name, signature_name=signature)
        if self.model.version is not None:
            spec.version.CopyFrom(wrappers_pb2.Int64Value(value=self.model.version))
        elif self.model.label is not None:
            spec.version_label = self.model.label
        return spec

    def _call(self, method, request):
        describe = f"TF Serving at {self.target} (gRPC), {self.model}"
        codes = self._grpc.StatusCode

        def attempt():
            try:
                return method(request, timeout=self.timeout)
            except self._grpc.RpcError as error:
                code, message = error.code(), _one_line(error.details() or "")
                if code == codes.UNAVAILABLE:
                    raise _Unavailable(message) from None
                if code == codes.DEADLINE_EXCEEDED:
                    raise Unreachable(f"{describe}: no answer within {self.timeout:g} s") \
                        from None
                if code == codes.NOT_FOUND or _signature_missing(message):
                    raise NotFound(f"{describe}: {message}") from None
                if code in (codes.INVALID_ARGUMENT, codes.FAILED_PRECONDITION,
                            codes.OUT_OF_RANGE):
                    raise BadRequest(f"{describe}: {message}") from None
                raise ServingError(f"{describe}: {code.name}: {message}") from None

        return _with_retries(attempt, self.attempts, describe)

    def predict(self, signature: str, inputs: Mapping[str, Sequence]) -> Dict[str, np.ndarray]:
        """The outputs of `signature` on `inputs`, by PredictionService.Predict."""
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest(model_spec=self._spec(signature))
        for name, values in inputs.items():
            try:
                if _is_text(values):
                    proto = tf.make_tensor_proto([_raw_bytes(v) for v in values], tf.string)
                else:
                    proto = tf.make_tensor_proto(np.asarray(values))
            except (TypeError, ValueError) as error:
                raise BadRequest(f"TF Serving at {self.target} (gRPC): input {name!r} is not "
                                 f"a tensor: {_one_line(str(error))}") from None
            request.inputs[name].CopyFrom(proto)
        response = self._call(self._predictions.Predict, request)
        return {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}

    def status(self) -> List[dict]:
        """Each version the server knows (ModelService.GetModelStatus): {"version": int,
        "state": str, "error": str}."""
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest(model_spec=self._spec())
        response = self._call(self._models.GetModelStatus, request)
        states = get_model_status_pb2.ModelVersionStatus.State
        return [{"version": v.version, "state": states.Name(v.state),
                 "error": v.status.error_message} for v in response.model_version_status]

    def metadata(self) -> Dict[str, dict]:
        """Each signature's {"inputs": {name: dtype}, "outputs": {name: dtype}}
        (PredictionService.GetModelMetadata)."""
        from tensorflow.core.framework import types_pb2
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=self._spec(), metadata_field=["signature_def"])
        response = self._call(self._predictions.GetModelMetadata, request)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        return {name: {side: {alias: types_pb2.DataType.Name(info.dtype)
                              for alias, info in getattr(signature, side).items()}
                       for side in ("inputs", "outputs")}
                for name, signature in signatures.signature_def.items()
                if not name.startswith("__")}


def _is_text(values) -> bool:
    """Strings, or an empty list: it has no type of its own, and every input of this
    model's signatures is a string (TF Serving refuses a tensor of another type, even an
    empty one)."""
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "OSU"
    return len(values) == 0 or isinstance(values[0], (str, bytes))


# ------------------------------------------------------------------------------------ on disk


def newest_version(model_dir: str) -> str:
    """The newest complete version directory under `model_dir` (one with its graph file: on
    an object store a push writes that file last)."""
    from common import storage

    if not storage.exists(model_dir):
        raise NotFound(f"no model directory {model_dir}; push a model first (movielens-tfx run)"
                       " or give --model-dir")
    newest = storage.newest_complete_version(model_dir)
    if newest is None:
        raise NotFound(f"{model_dir} has no complete version directory (1/, 2/, ... with a "
                       "saved_model.pb)")
    return newest


class LocalTransport:
    """A version directory run through TF Serving's session loader, in this process."""

    def __init__(self, model_dir: str, version: Optional[int] = None,
                 directory: Optional[str] = None) -> None:
        """The `version` of `model_dir` (the newest when None), or a SavedModel `directory`
        that is no version of a model directory (the Trainer's serving model)."""
        from serving.session_model import SessionModel, error_line

        self.directory = directory or (os.path.join(model_dir, str(version))
                                       if version is not None else newest_version(model_dir))
        if version is not None and not os.path.isdir(self.directory):
            raise NotFound(f"no version {version} in {model_dir}")
        try:
            self._model = SessionModel(self.directory)
        except Exception as error:  # whatever the loader raises, TF Serving would refuse it
            raise ServingError(f"{self.directory} does not load as TF Serving loads it: "
                               f"{error_line(error)}") from None

    def close(self) -> None:
        """Closes the model's session."""
        self._model.close()

    def predict(self, signature: str, inputs: Mapping[str, Sequence]) -> Dict[str, np.ndarray]:
        """The outputs of `signature` on `inputs`, run in this process; a bad input is a
        BadRequest."""
        import tensorflow as tf

        from serving.session_model import BadInput, SignatureNotFound, error_line

        try:
            return self._model.run(signature, {
                name: [_raw_bytes(v) for v in values] if _is_text(values) else values
                for name, values in inputs.items()})
        except SignatureNotFound as error:
            raise NotFound(error.args[0]) from None
        except (BadInput, ValueError, tf.errors.OpError) as error:
            raise BadRequest(f"{self.directory}: {error_line(error)}") from None


# --------------------------------------------------------------------------- plain results


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """One recommended movie: its id, title, predicted stars and retrieval score."""

    movie_id: str
    title: str
    stars: float  # predicted rating, 1-5
    score: float  # retrieval score (log training count when not personalized)


@dataclasses.dataclass(frozen=True)
class UserRecommendations:
    """A user's recommended movies, best predicted rating first; not `personalized` for an
    unknown user."""

    user_id: str
    personalized: bool  # False: an unknown user, given the most popular movies
    movies: List[Recommendation]


def _id(value):
    """An id or query as given: bytes stay bytes (they may not be UTF-8), the rest str."""
    return value if isinstance(value, bytes) else str(value)


def _text(value) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


class Recommender:
    """The model's answers as plain Python, whatever the transport."""

    def __init__(self, transport) -> None:
        self.transport = transport

    def close(self) -> None:
        """Closes the transport."""
        self.transport.close()

    def __enter__(self) -> "Recommender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _predict(self, signature: str, inputs: Dict[str, List[str]]) -> Dict[str, np.ndarray]:
        """One request, or one a contract.MAX_BATCH[signature] ids for a longer list (outputs joined
        in order)."""
        size = len(next(iter(inputs.values())))
        limit = contract.MAX_BATCH[signature]
        parts = [self.transport.predict(signature, {name: values[start:start + limit]
                                                    for name, values in inputs.items()})
                 for start in range(0, size, limit)]
        return {name: np.concatenate([np.asarray(part[name]) for part in parts])
                for name in parts[0]}

    def recommend(self, user_ids: Sequence[str], k: Optional[int] = None
                  ) -> List[UserRecommendations]:
        """Each user's top movies, best predicted rating first (the `recommend` signature)."""
        user_ids = [_id(u) for u in user_ids]
        if not user_ids:
            return []
        out = self._predict(contract.RECOMMEND, {contract.USER_ID: user_ids})
        available = np.asarray(out[contract.MOVIE_IDS]).shape[1]
        if k is not None and not 0 < k <= available:
            raise BadRequest(f"k must be between 1 and {available} (the model's top k, fixed "
                             f"at export; retrain with --model top_k=N for more), got {k}")
        k = k or available
        return [UserRecommendations(_text(user), bool(out[contract.PERSONALIZED][row]), [
            Recommendation(_text(out[contract.MOVIE_IDS][row][i]),
                           _text(out[contract.TITLES][row][i]),
                           float(out[contract.RATINGS][row][i]),
                           float(out[contract.SCORES][row][i]))
            for i in range(k)]) for row, user in enumerate(user_ids)]

    def rate(self, pairs: Sequence[Tuple[str, str]]) -> List[float]:
        """Predicted stars (1-5) for (user_id, movie_id) pairs."""
        if not pairs:
            return []
        users, movies = zip(*((_id(u), _id(m)) for u, m in pairs))
        out = self._predict(contract.RATE, {contract.USER_ID: list(users),
                                            contract.MOVIE_ID: list(movies)})
        return [float(r) for r in out[contract.RATING]]

    def find_movies(self, queries: Sequence[str]) -> List[Optional[Tuple[str, str]]]:
        """(movie_id, title) for each id or title (case ignored, year optional); None if none."""
        if not queries:
            return []
        out = self._predict(contract.LOOKUP_MOVIE,
                            {contract.MOVIE_QUERY: [_id(q) for q in queries]})
        return [(_text(m), _text(t)) if _text(m) else None
                for m, t in zip(out[contract.MOVIE_ID], out[contract.TITLE])]
