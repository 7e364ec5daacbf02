import uuid

import numpy as np
import pytest
import tensorflow as tf

from components.movielens import parsers, synthetic
from components.movielens.synthetic import SyntheticConfig
from pipeline import cli


def test_missing_data_path_is_a_clear_error(capsys, tmp_path):
    code = cli.main(["run", "--data", str(tmp_path / "nope"), "--pipeline-root", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "movielens-tfx run: error: --data" in err and "no such file or directory" in err
    assert "Traceback" not in err


def test_generate_writes_the_configured_synthetic_set(capsys, tmp_path):
    code = cli.main(["generate", "--output", str(tmp_path), "--seed", "5",
                     "--synthetic-users", "20", "--synthetic-movies", "40",
                     "--synthetic-ratings", "500"])
    assert code == 0 and "Wrote 500 ratings" in capsys.readouterr().out
    read = parsers.read_movielens(str(tmp_path))
    expected = synthetic.generate(SyntheticConfig(20, 40, 500, seed=5))
    np.testing.assert_array_equal(read.ratings, expected.ratings)


def test_model_overrides_are_typed_and_checked(capsys, tmp_path):
    from trainer.config import ModelConfig
    from pipeline.config import overridden

    config = overridden(ModelConfig(), ["epochs=3", "rating_layers=64,32", "use_bias=false",
                                        "temperature=0.5"], "--model")
    assert (config.epochs, config.rating_layers, config.use_bias, config.temperature) == (
        3, (64, 32), False, 0.5)
    code = cli.main(["experiments", "--model", "epochs=many", "--report-dir", str(tmp_path)])
    assert code == 2 and "--model epochs: cannot read 'many' as int" in capsys.readouterr().err
    code = cli.main(["experiments", "--model", "colour=blue", "--report-dir", str(tmp_path)])
    assert code == 2 and "FIELD one of" in capsys.readouterr().err


@pytest.mark.slow
def test_run_reports_the_gate_and_the_pushed_version_in_a_bucket(capsys, tmp_path):
    """The serving directory may be an object store (TF's ram:// stands in for gs://)."""
    serving = f"ram://serving-{uuid.uuid4().hex}"
    code = cli.main(["run", "--pipeline-root", str(tmp_path), "--serving-dir", serving,
                     "--synthetic-users", "60", "--synthetic-movies", "200",
                     "--synthetic-ratings", "3000", "--model", "epochs=2",
                     "--gate", "max_rmse_over_baseline=3",
                     "--gate", "min_top_k_over_baseline=0"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "blessed." in out and "NOT blessed" not in out
    assert f"Serving: {serving}/movielens (latest version 1)" in out
    assert tf.io.gfile.exists(f"{serving}/movielens/1/saved_model.pb")
