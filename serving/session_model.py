"""A SavedModel loaded and run the way TF Serving runs it.

TF Serving (and `saved_model_cli run`) do not use `tf.saved_model.load`: they import the
MetaGraph into a session, run the SaverDef's restore op and the init op, and run each
SignatureDef by its tensors' names. A model can pass every test through the TF2 loader and
still fail on every TF Serving request, so servability is checked here, on this path.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import numpy as np
import tensorflow as tf

SERVE_TAG = "serve"


class SignatureNotFound(KeyError):
    """The model has no signature of that name."""


class BadInput(ValueError):
    """The inputs do not match the signature (missing or unexpected names)."""


class SessionModel:
    """One SavedModel version in its own graph and session, as TF Serving holds it."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        try:
            with self.graph.as_default():
                meta_graph = tf.compat.v1.saved_model.loader.load(
                    self.session, [SERVE_TAG], directory)
        except BaseException:
            self.session.close()
            raise
        self.signature_defs = dict(meta_graph.signature_def)  # the init op's entry too
        # The init op's entry (`__saved_model_init_op`) is not a signature a client calls.
        self.signatures = {name: signature for name, signature in self.signature_defs.items()
                           if not name.startswith("__")}

    def signature(self, name: str):
        """The SignatureDef of that name; SignatureNotFound, listing the model's signatures, if
        there is none."""
        if name not in self.signatures:
            raise SignatureNotFound(
                f"no signature {name!r} in {self.directory}; it has "
                f"{', '.join(sorted(self.signatures))}")
        return self.signatures[name]

    def run(self, signature_name: str, inputs: Mapping[str, Sequence]) -> Dict[str, np.ndarray]:
        """Feeds the named inputs to the signature's input tensors; returns its outputs."""
        signature = self.signature(signature_name)
        expected = set(signature.inputs)
        if set(inputs) != expected:
            raise BadInput(f"signature {signature_name!r} takes inputs {sorted(expected)}, "
                           f"got {sorted(inputs)}")
        feed = {signature.inputs[name].name: _feed(name, values, signature.inputs[name])
                for name, values in inputs.items()}
        fetches = {name: tensor.name for name, tensor in signature.outputs.items()}
        return self.session.run(fetches, feed)

    def close(self) -> None:
        """Closes the session."""
        self.session.close()

    def __enter__(self) -> "SessionModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _feed(name: str, values, tensor_info) -> np.ndarray:
    """The input as the signature's tensor: Python lists take its dtype; a typed array must
    already have it, as TF Serving refuses a tensor of another dtype (a warm-up record too);
    the rank must match."""
    dtype = tf.dtypes.as_dtype(tensor_info.dtype)
    text = dtype == tf.string
    if isinstance(values, np.ndarray) and values.dtype.kind not in "OSU":
        if values.dtype != dtype.as_numpy_dtype:
            raise BadInput(f"input {name!r}: expects {dtype.name} but {values.dtype} is provided")
        array = values
    else:
        try:
            array = np.asarray(values, dtype=object if text else dtype.as_numpy_dtype)
        except (TypeError, ValueError) as error:
            raise BadInput(f"input {name!r}: not a {dtype.name} tensor ({error})") from None
        if text and not all(isinstance(v, (bytes, str)) for v in array.flat):
            raise BadInput(f"input {name!r}: expects strings, in a list of equal-length rows")
    shape = tensor_info.tensor_shape
    if not shape.unknown_rank and array.ndim != len(shape.dim):
        raise BadInput(f"input {name!r}: expects rank {len(shape.dim)}, got shape "
                       f"{list(array.shape)}")
    return array


def error_line(error: BaseException) -> str:
    """The cause in one line: TF's session errors start with "Graph execution error:" and
    carry the cause on the next line, with the graph's node names after it."""
    text = getattr(error, "message", None) or str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("Graph execution error")]
    return " ".join((useful or lines or [type(error).__name__])[0].split())[:300]
