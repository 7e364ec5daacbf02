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
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self.session, [SERVE_TAG], directory)
        # TF Serving hides the init op's entry; it is not a signature a client can call.
        self.signatures = {name: signature for name, signature in meta_graph.signature_def.items()
                           if not name.startswith("__")}

    def signature(self, name: str):
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
        feed = {signature.inputs[name].name: np.asarray(values, dtype=_numpy_dtype(
            signature.inputs[name].dtype)) for name, values in inputs.items()}
        fetches = {name: tensor.name for name, tensor in signature.outputs.items()}
        return self.session.run(fetches, feed)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "SessionModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _numpy_dtype(dtype_enum: int):
    dtype = tf.dtypes.as_dtype(dtype_enum)
    return object if dtype == tf.string else dtype.as_numpy_dtype
