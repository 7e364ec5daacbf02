"""A stand-in for `tensorflow_model_server`, for tests and benchmarks only.

No TF Serving binary installs on the machines this project is built on, so the client is
tested against this server: it answers TF Serving's REST API (predict, model status,
metadata) and its gRPC API (PredictionService.Predict and GetModelMetadata, ModelService.
GetModelStatus) by running the pushed SavedModel through TF Serving's session path
(serving/session_model.py). URLs, status codes, JSON shapes and error texts follow TF Serving
2.16's source (http_rest_api_handler.cc, json_tensor.cc, get_model_status_impl.cc,
predict_util.cc). It does not batch, reload, classify or regress, and it writes non-UTF-8
string outputs with replacement characters where TF Serving writes the raw bytes.
Not for production: serve with the `tensorflow/serving` image (serving/deploy/).
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import threading
from concurrent import futures
from typing import Any, Dict, List, Optional, Tuple

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from common import storage
from serving import contract
from serving.session_model import BadInput, SessionModel

DEFAULT_SIGNATURE = contract.SERVING_DEFAULT
_POST = re.compile(r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
                   r":(classify|regress|predict)")
_GET = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
                  r"(?:/(metadata))?")
_HTTP_STATUS = {  # absl status code -> HTTP status, as TF Serving's http_server.cc maps them
    grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400, grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# TF's DataTypeString, as TF Serving's messages name dtypes
_DTYPE_NAMES = {"float32": "float", "float64": "double"}


class ServingStatus(Exception):
    """A failed request: a gRPC status code and TF Serving's message for it."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _status_of_tf_error(error: tf.errors.OpError) -> ServingStatus:
    # TF's error codes are the gRPC codes, number for number.
    code = next((c for c in grpc.StatusCode if c.value[0] == error.error_code),
                grpc.StatusCode.UNKNOWN)
    return ServingStatus(code, error.message)


class ModelVersions:
    """The newest `num_versions` versions under a base path, loaded as TF Serving loads them."""

    def __init__(self, name: str, base_path: str, num_versions: int = 2,
                 labels: Optional[Dict[str, int]] = None) -> None:
        numbers = storage.versions(base_path)[::-1]
        self.name = name
        self.versions = {n: SessionModel(os.path.join(base_path, str(n)))
                         for n in numbers[:num_versions]}
        self.labels = dict(labels or {})
        for label, version in self.labels.items():
            if version not in self.versions:
                raise ValueError(f"Request to assign label to version {version} of model "
                                 f"{name}, which is not currently available for inference")

    def resolve(self, name: str, version: Optional[int], label: Optional[str]
                ) -> Tuple[int, SessionModel]:
        """The version a request's name and version or label select, and its model; else a
        ServingStatus with TF Serving's code and message."""
        if not name:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                "ModelSpec has no name specified.")
        if label:
            if name != self.name or label not in self.labels:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"Unrecognized servable version label: {label}")
            version = self.labels[label]
        if name != self.name or not self.versions:
            raise ServingStatus(grpc.StatusCode.NOT_FOUND,
                                f"Servable not found for request: Latest({name})")
        if version is None:
            version = max(self.versions)
        if version not in self.versions:
            raise ServingStatus(grpc.StatusCode.NOT_FOUND,
                                f"Servable not found for request: Specific({name}, {version})")
        return version, self.versions[version]

    def status(self, name: str, version: Optional[int]) -> List[Tuple[int, str]]:
        """(version, state) of the requested version, or of every loaded one newest first, as
        GetModelStatus reports them; a ServingStatus for an unknown model or version."""
        if name != self.name:
            raise ServingStatus(grpc.StatusCode.NOT_FOUND,
                                f"Could not find any versions of model {name}")
        if version is not None and version not in self.versions:
            raise ServingStatus(grpc.StatusCode.NOT_FOUND,
                                f"Could not find version {version} of model {name}")
        chosen = [version] if version is not None else sorted(self.versions, reverse=True)
        return [(v, "AVAILABLE") for v in chosen]

    def close(self) -> None:
        """Closes every loaded version's session."""
        for model in self.versions.values():
            model.close()


def _run(model: SessionModel, signature_name: str, inputs: Dict[str, Any]):
    try:
        return model.run(signature_name, inputs)
    except tf.errors.OpError as error:
        raise _status_of_tf_error(error) from None
    except (BadInput, ValueError) as error:  # a dtype or shape the signature does not take
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None


# ---------------------------------------------------------------------------------------- REST


def _json_kind(value) -> str:
    """rapidjson's name of a value's type."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    names: Dict[type, str] = {str: "String", dict: "Object", list: "Array"}
    return names.get(type(value), "Number")


def _from_json(value, dtype: tf.DType):
    """One JSON element of an input, checked against its dtype as json_tensor.cc does."""
    def wrong():
        return ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                             f"JSON Value: {json.dumps(value)} Type: {_json_kind(value)} is not "
                             f"of expected type: {_DTYPE_NAMES.get(dtype.name, dtype.name)}")
    if isinstance(value, list):
        return [_from_json(v, dtype) for v in value]
    if isinstance(value, dict):
        if dtype == tf.string and set(value) == {"b64"} and isinstance(value["b64"], str):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except ValueError:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    "Unable to base64 decode") from None
        raise wrong()
    if dtype == tf.string:
        if not isinstance(value, str):
            raise wrong()
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:  # a lone \uDCxx escape: rapidjson refuses the document
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                "JSON Parse error: The surrogate pair in string is invalid.") \
                from None
    ok = (isinstance(value, bool) if dtype == tf.bool
          else isinstance(value, int) and not isinstance(value, bool) if dtype.is_integer
          else isinstance(value, (int, float)) and not isinstance(value, bool))
    if not ok:
        raise wrong()
    return value


def _to_json(array: np.ndarray, name: str):
    if array.dtype == object:  # DT_STRING
        if name.endswith("_bytes"):
            encode = lambda b: {"b64": base64.b64encode(b).decode("ascii")}  # noqa: E731
        else:
            encode = lambda b: b.decode("utf-8", errors="replace")  # noqa: E731
        return np.vectorize(encode, otypes=[object])(array).tolist() if array.size else \
            array.tolist()
    return array.tolist()


def _columns_from_request(body: dict, signature) -> Dict[str, np.ndarray]:
    names = sorted(signature.inputs)
    dtypes = {n: tf.dtypes.as_dtype(signature.inputs[n].dtype) for n in names}

    def array(values, name):
        converted = _from_json(values, dtypes[name])
        try:
            return np.asarray(converted, dtype=object if dtypes[name] == tf.string
                              else dtypes[name].as_numpy_dtype)
        except ValueError:  # lists of unequal lengths
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f"Encountered list at unexpected size in input {name}") from None

    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f"JSON Value: {json.dumps(body)} Excepting 'instances' to be "
                                "an list/array")
        if not instances:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f"JSON Value: {json.dumps(body)} No values in 'instances' array")
        named = isinstance(instances[0], dict) and set(instances[0]) != {"b64"}
        if not named:
            if len(names) > 1:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    "instances is a plain list, but expecting list of objects "
                                    "as multiple input tensors required as per tensorinfo_map")
            return {names[0]: array(instances, names[0])}
        for i, instance in enumerate(instances):
            if not isinstance(instance, dict) or set(instance) != set(names):
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"Failed to process element: {i} of 'instances' list. JSON "
                                    f"object: {json.dumps(instance)} keys must be equal to: "
                                    f"{','.join(names)}")
        return {n: array([instance[n] for instance in instances], n) for n in names}
    inputs = body["inputs"]
    if not isinstance(inputs, dict) or set(inputs) == {"b64"}:
        if len(names) > 1:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                "inputs is a plain value/list, but expecting an object as "
                                "multiple input tensors required as per tensorinfo_map")
        return {names[0]: array(inputs, names[0])}
    for name in names:
        if name not in inputs:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f"Missing named input: {name} in 'inputs' object.")
    return {n: array(inputs[n], n) for n in names}


class _RestHandler(http.server.BaseHTTPRequestHandler):
    models: ModelVersions  # set on the subclass made per server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet: tests and benchmarks read their own output
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: ServingStatus) -> None:
        self._send(_HTTP_STATUS.get(status.code, 500),
                   json.dumps({"error": status.message}, indent=4))

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        if not re.fullmatch(r"(?i)/v1/.*", path):
            self._send(404, "<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n"
                            "<H1>Not Found</H1>\n</BODY></HTML>\n", "text/html")
            return
        body = b""
        if method == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._send(200, self._answer(method, path, body))
        except ServingStatus as status:
            self._error(status)
        except Exception as error:  # a bug here must still answer, as TF Serving would
            self._error(ServingStatus(grpc.StatusCode.INTERNAL,
                                      f"{type(error).__name__}: {error}"))

    def _answer(self, method: str, path: str, body: bytes) -> str:
        malformed = ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                  f"Malformed request: {method} {path}")
        if method == "POST":
            match = _POST.fullmatch(path)
            if not match or match.group(4) != "predict":
                raise malformed
            name, version, label, _ = match.groups()
            return self._predict(name, int(version) if version else None, label, body)
        match = _GET.fullmatch(path)
        if method != "GET" or not match:
            raise malformed
        name, version, _, metadata = match.groups()
        if not name:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                "Missing model name in request.")
        version = int(version) if version else None
        if metadata:
            number, model = self.models.resolve(name, version, match.group(3))
            return _metadata_json(name, number, model)
        return json.dumps({"model_version_status": [
            {"version": str(v), "state": state, "status": {"error_code": "OK",
                                                           "error_message": ""}}
            for v, state in self.models.status(name, version)]}, indent=1)

    def _predict(self, name: str, version: Optional[int], label: Optional[str],
                 body: bytes) -> str:
        try:
            request = json.loads(body.decode("utf-8")) if body.strip() else None
        except (UnicodeDecodeError, ValueError) as error:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f"JSON Parse error: {error}") from None
        if request is None:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                "JSON Parse error: The document is empty")
        if not isinstance(request, dict):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f"JSON Value: {json.dumps(request)} Is not object")
        signature_name = request.get("signature_name", DEFAULT_SIGNATURE)
        if not isinstance(signature_name, str):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f"JSON Value: {json.dumps(request)} not formatted correctly. "
                                "'signature_name' key must be a string value.")
        _, model = self.models.resolve(name, version, label)
        if signature_name not in model.signatures:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f'Serving signature name: "{signature_name}" not found in '
                                "signature def")
        if ("inputs" in request) == ("instances" in request):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, (
                f"JSON Value: {json.dumps(request)} Not formatted correctly expecting only one "
                "of 'inputs' or 'instances' keys to exist " if "inputs" in request
                else "Missing 'inputs' or 'instances' key"))
        outputs = _run(model, signature_name,
                       _columns_from_request(request, model.signatures[signature_name]))
        rendered = {n: _to_json(v, n) for n, v in outputs.items()}
        if "instances" in request:
            rows = len(next(iter(outputs.values())))
            if len(rendered) == 1:
                [values] = rendered.values()
                return json.dumps({"predictions": values})
            return json.dumps({"predictions": [{n: v[i] for n, v in rendered.items()}
                                               for i in range(rows)]})
        if len(rendered) == 1:
            [values] = rendered.values()
            return json.dumps({"outputs": values})
        return json.dumps({"outputs": rendered})

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")


def _signature_map(model: SessionModel) -> get_model_metadata_pb2.SignatureDefMap:
    signatures = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in model.signature_defs.items():
        signatures.signature_def[name].CopyFrom(signature)
    return signatures


def _metadata_json(name: str, version: int, model: SessionModel) -> str:
    signatures = json_format.MessageToDict(_signature_map(model), preserving_proto_field_name=True,
                                           including_default_value_fields=True)
    return json.dumps({"model_spec": {"name": name, "signature_name": "",
                                      "version": str(version)},
                       "metadata": {"signature_def": signatures}}, indent=1)


# ---------------------------------------------------------------------------------------- gRPC


def _spec_version(spec) -> Tuple[Optional[int], Optional[str]]:
    choice = spec.WhichOneof("version_choice")
    if choice == "version":
        return spec.version.value, None
    if choice == "version_label":
        return None, spec.version_label
    return None, None


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, models: ModelVersions) -> None:
        self.models = models

    def Predict(self, request, context):  # noqa: N802 (gRPC's naming)
        try:
            version, model = self.models.resolve(request.model_spec.name,
                                                 *_spec_version(request.model_spec))
            name = request.model_spec.signature_name or DEFAULT_SIGNATURE
            if name not in model.signatures:
                raise ServingStatus(grpc.StatusCode.FAILED_PRECONDITION,
                                    f'Serving signature key "{name}" not found.')
            expected, sent = set(model.signatures[name].inputs), set(request.inputs)
            if len(expected) != len(sent):
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, (
                    f"input size does not match signature: {len(sent)}!={len(expected)} "
                    f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}})"
                    f". Sent extra: {{{','.join(sorted(sent - expected))}}}. Missing but "
                    f"required: {{{','.join(sorted(expected - sent))}}}."))
            if expected != sent:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, (
                    f"Signature input alias: {sorted(expected - sent)[0]} not found in request "
                    "and no default value provided."))
            outputs = _run(model, name, {k: tf.make_ndarray(v)
                                         for k, v in request.inputs.items()})
        except ServingStatus as status:
            context.abort(status.code, status.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = name
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            if not request.metadata_field:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    "GetModelMetadataRequest must specify at least one "
                                    "metadata_field")
            for field in request.metadata_field:
                if field != "signature_def":
                    raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                        f"Metadata field {field} is not supported")
            version, model = self.models.resolve(request.model_spec.name,
                                                 *_spec_version(request.model_spec))
        except ServingStatus as status:
            context.abort(status.code, status.message)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(_signature_map(model))
        return response


class _ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, models: ModelVersions) -> None:
        self.models = models

    def GetModelStatus(self, request, context):  # noqa: N802
        spec = request.model_spec
        try:
            versions = self.models.status(
                spec.name, spec.version.value if spec.HasField("version") else None)
        except ServingStatus as status:
            context.abort(status.code, status.message)
        response = get_model_status_pb2.GetModelStatusResponse()
        for version, _ in versions:
            entry = response.model_version_status.add(version=version)
            entry.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response


class StandInServer:
    """REST and gRPC on 127.0.0.1 (ephemeral ports unless given); a context manager."""

    def __init__(self, base_path: str, model_name: str = contract.DEFAULT_MODEL_NAME,
                 num_versions: int = 2, labels: Optional[Dict[str, int]] = None, rest_port: int = 0,
                 grpc_port: int = 0) -> None:
        self.models = ModelVersions(model_name, base_path, num_versions, labels)
        handler = type("RestHandler", (_RestHandler,), {"models": self.models})
        try:
            self._http = http.server.ThreadingHTTPServer(("127.0.0.1", rest_port), handler)
        except OSError:  # the port is taken: release the loaded sessions
            self.models.close()
            raise
        self._http.daemon_threads = True
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _PredictionService(self.models), self._grpc)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            _ModelService(self.models), self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(f"127.0.0.1:{grpc_port}")
        self.rest_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def start(self) -> "StandInServer":
        """Starts the gRPC and REST servers; returns this server."""
        self._grpc.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops both servers, letting requests in flight finish, then closes the loaded
        sessions."""
        if self._thread.is_alive():
            self._http.shutdown()
        self._http.server_close()
        self._grpc.stop(grace=1).wait()  # requests in flight finish before sessions close
        self.models.close()

    def __enter__(self) -> "StandInServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
