"""The check a model passes before it is pushed: does TF Serving load and warm it up?

TF Serving loads a version with the session loader, then replays every record of
`assets.extra/tf_serving_warmup_requests` and refuses the version if one fails (or if there
are more than 1,000). The same happens here, through `serving/session_model.py`, and every
signature must be exercised by a warm-up record, so the check runs each of them once.
"""

from __future__ import annotations

import os
from typing import Any, List

import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow_serving.apis import prediction_log_pb2

from serving import contract
from serving.session_model import SessionModel, error_line

WARMUP_PATH = os.path.join(contract.ASSETS_EXTRA, contract.WARMUP_FILE)
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit (saved_model_warmup_util.cc)


class NotServable(Exception):
    """The model would fail to load or to answer in TF Serving; the message is one line."""


def warmup_requests(directory: str):
    """The PredictRequests of the model's warm-up file, in order."""
    path = os.path.join(directory, WARMUP_PATH)
    if not tf.io.gfile.exists(path):
        raise NotServable(f"{path} is missing: the export writes one request per signature")
    requests: List[Any] = []
    try:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog.FromString(record)
            if not log.HasField("predict_log"):
                raise NotServable(f"{path}: record {len(requests) + 1} is not a predict log")
            requests.append(log.predict_log.request)
    except (tf.errors.OpError, DecodeError) as error:
        raise NotServable(f"{path}: record {len(requests) + 1} is unreadable: "
                          f"{error_line(error)}") from None
    if len(requests) > MAX_WARMUP_RECORDS:
        raise NotServable(f"{path} has {len(requests)} records; TF Serving allows "
                          f"{MAX_WARMUP_RECORDS}")
    return requests


def check(directory: str) -> None:
    """Raises NotServable, naming the signature and the cause, unless TF Serving's loader
    loads the model and runs every warm-up request, one for each signature."""
    requests = warmup_requests(directory)
    try:
        model = SessionModel(directory)
    except Exception as error:  # any load failure is the verdict, whatever its type
        raise NotServable(f"TF Serving's loader cannot load it: {error_line(error)}") from error
    with model:
        warmed = set()
        for number, request in enumerate(requests, start=1):
            name = request.model_spec.signature_name or contract.SERVING_DEFAULT
            inputs = {key: tf.make_ndarray(tensor) for key, tensor in request.inputs.items()}
            try:
                model.run(name, inputs)
            except Exception as error:  # as TF Serving, any failing request refuses the version
                raise NotServable(f"warm-up request {number} ({name}) fails: "
                                  f"{error_line(error)}") from error
            warmed.add(name)
        cold = sorted(set(model.signatures) - warmed)
        if cold:
            raise NotServable(f"no warm-up request for signature(s) {', '.join(cold)}")
