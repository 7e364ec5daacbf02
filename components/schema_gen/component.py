"""MovieLensSchemaGen: writes the declared raw schema (common.features) as an artifact.

The schema text is the component's parameter, so editing the schema changes the cache key and
Transform reruns; a fixed schema file could not do that, nor be found inside a KFP container.
"""


import os

from google.protobuf import text_format
from tfx import v1 as tfx

from common import features


@tfx.dsl.components.component
def MovieLensSchemaGen(
    schema: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Schema],
    schema_text: tfx.dsl.components.Parameter[str],
    code_version: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """`code_version`: the digest of this code (components/code_version.py), a parameter
    only so that an edit to it changes the cache key."""
    del code_version
    with open(os.path.join(schema.uri, "schema.pbtxt"), "w", encoding="utf-8") as out:
        out.write(schema_text)


def schema_text() -> str:
    """The declared raw schema (common.features) as protobuf text: MovieLensSchemaGen's
    `schema_text`."""
    return text_format.MessageToString(features.raw_schema())
