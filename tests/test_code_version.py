import json
import os

from components import code_version
from components.code_version import CODE_VERSION_KEY
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline


def _package(root, files):
    for relative, text in files.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            out.write(text)
    return str(root)


def test_digest_follows_python_sources_only(tmp_path):
    package = _package(tmp_path / "pkg", {"__init__.py": "", "model.py": "UNITS = 8\n",
                                          "sub/layers.py": "DEPTH = 2\n"})
    before = code_version.digest_of([package])
    assert code_version.digest_of([package]) == before
    _package(tmp_path / "pkg", {"notes.txt": "edited", "__pycache__/model.cpython-310.pyc": "x"})
    assert code_version.digest_of([package]) == before
    _package(tmp_path / "pkg", {"sub/layers.py": "DEPTH = 3\n"})
    assert code_version.digest_of([package]) != before


def test_a_renamed_module_changes_the_digest(tmp_path):
    first = _package(tmp_path / "a" / "pkg", {"one.py": "X = 1\n"})
    second = _package(tmp_path / "b" / "pkg", {"two.py": "X = 1\n"})
    assert code_version.digest_of([first]) != code_version.digest_of([second])


def test_components_that_run_project_code_carry_its_digest(tmp_path):
    pipeline = create_pipeline(PipelineConfig(pipeline_root=str(tmp_path)))
    by_id = {component.id: component for component in pipeline.components}
    data_code = code_version.digest(code_version.DATA_CODE)
    model_code = code_version.digest(code_version.MODEL_CODE)
    assert data_code != model_code
    assert by_id["MovieLensExampleGen"].exec_properties[CODE_VERSION_KEY] == data_code
    transform_config = json.loads(by_id["Transform"].exec_properties["custom_config"])
    assert transform_config[CODE_VERSION_KEY] == data_code
    trainer_config = json.loads(by_id["Trainer"].exec_properties["custom_config"])
    assert trainer_config[CODE_VERSION_KEY] == model_code
