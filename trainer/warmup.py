"""TF Serving warm-up: one PredictionLog per signature in assets.extra, so the first real
request does not pay for graph loading and tracing."""

from __future__ import annotations

import os

import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from common import features
from serving import contract


def _example(user_id: str, movie_id: str) -> bytes:
    feature = {features.USER_ID: user_id, features.MOVIE_ID: movie_id}
    return tf.train.Example(features=tf.train.Features(feature={
        name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        for name, value in feature.items()})).SerializeToString()


def requests(user_id: str, movie_id: str):
    """(signature, inputs) for every signature, with one known user and movie."""
    return [
        (contract.RETRIEVE, {contract.USER_ID: [user_id]}),
        (contract.RATE, {contract.USER_ID: [user_id], contract.MOVIE_ID: [movie_id]}),
        (contract.RECOMMEND, {contract.USER_ID: [user_id]}),
        (contract.LOOKUP_MOVIE, {contract.MOVIE_QUERY: [movie_id]}),
        (contract.SERVING_DEFAULT, {contract.EXAMPLES: [_example(user_id, movie_id)]}),
    ]


def write(assets_extra: str, signature_inputs) -> str:
    """Writes one PredictLog per (signature, inputs) pair, in TF Serving's warm-up format."""
    path = os.path.join(assets_extra, contract.WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in signature_inputs:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(signature_name=signature))
            for name, values in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(values))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path
