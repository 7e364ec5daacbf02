"""ServableCheck: TF Serving's own loader on the Trainer's serving model, as a component.

TFX's InfraValidator starts a TF Serving server (and the Kubeflow v2 compiler refuses it);
this check loads the SavedModel with the session loader TF Serving uses and replays its
warm-up requests, one per signature (serving/servable.py). It writes TFX's InfraBlessing:
the custom property `blessed` (1 or 0, what TFX's own Pusher reads), the reason in
`servable_check`, and the marker file INFRA_BLESSED or INFRA_NOT_BLESSED as TFX's
InfraValidator writes. The Pusher requires it: a model TF Serving cannot load is never pushed.
"""

import os
from typing import Tuple

from tfx import v1 as tfx
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from serving import servable

BLESSED = "blessed"  # InfraBlessing property: 1 when TF Serving can serve the model
REASON = "servable_check"  # InfraBlessing property: what the check found, one line
BLESSED_FILE = "INFRA_BLESSED"
NOT_BLESSED_FILE = "INFRA_NOT_BLESSED"
SERVABLE = "TF Serving's loader loads it and answers a warm-up request for every signature"


def verdict(model_uri: str) -> Tuple[bool, str]:
    """(servable?, why) for the Trainer's model at `model_uri`."""
    try:
        servable.check(path_utils.serving_model_path(model_uri))
    except servable.NotServable as error:
        return False, str(error)
    return True, SERVABLE


@tfx.dsl.components.component
def ServableCheck(
    model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    infra_blessing: tfx.dsl.components.OutputArtifact[standard_artifacts.InfraBlessing],
    code_version: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Writes the InfraBlessing of the Trainer's model. `code_version`: the digest of this
    code (components/code_version.py), a parameter only so that an edit to it changes the
    cache key."""
    del code_version
    ok, reason = verdict(model.uri)
    infra_blessing.set_int_custom_property(BLESSED, int(ok))
    infra_blessing.set_string_custom_property(REASON, reason)
    with open(os.path.join(infra_blessing.uri, BLESSED_FILE if ok else NOT_BLESSED_FILE),
              "w", encoding="utf-8") as marker:
        marker.write(reason)
    print(f"ServableCheck: model {model.uri}: {reason}")
