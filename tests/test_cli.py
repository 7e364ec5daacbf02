import glob
import os
import uuid

import numpy as np
import pytest
import tensorflow as tf

from components.movielens import parsers, synthetic
from components.movielens.synthetic import SyntheticConfig
from pipeline import cli
from tests import faults, small_run


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
    from pipeline.config import overridden
    from trainer.config import ModelConfig

    config = overridden(ModelConfig(), ["epochs=3", "rating_layers=64,32", "use_bias=false",
                                        "temperature=0.5"], "--model")
    assert (config.epochs, config.rating_layers, config.use_bias, config.temperature) == (
        3, (64, 32), False, 0.5)
    code = cli.main(["experiments", "--model", "epochs=many", "--report-dir", str(tmp_path)])
    assert code == 2 and "--model epochs: cannot read 'many' as int" in capsys.readouterr().err
    code = cli.main(["experiments", "--model", "colour=blue", "--report-dir", str(tmp_path)])
    assert code == 2 and "FIELD one of" in capsys.readouterr().err
    code = cli.main(["experiments", "--variants", "in-batch", "sideways", "--peers", "none",
                     "--report-dir", str(tmp_path)])
    assert code == 2 and "--variants: unknown sideways; choose from in-batch" in \
        capsys.readouterr().err
    assert not os.listdir(tmp_path)  # refused before any training


@pytest.mark.parametrize("args, message", [
    (["--model", "embedding_dim=0"], "--model embedding_dim must be at least 1, got 0"),
    (["--model", "temperature=nan"], "--model temperature must be finite and above 0, got nan"),
    (["--gate", "max_rmse=0"], "--gate max_rmse must be above 0"),
    (["--model", "top_k=5000"], "--model top_k=5000 is more than the 1,682 movies"),
    (["--synthetic-ratings", "1000"], "--model batch_size=1024 is more than the 760 training"),
    (["--synthetic-users", "0"], "--synthetic-users must be at least 1, got 0"),
    (["--eval-fraction", "1.5"], "--eval-fraction must be between 0 and 1, got 1.5"),
    (["--eval-fraction", "nan"], "--eval-fraction must be between 0 and 1, got nan"),
    (["--gate-examples", "0"], "--gate-examples must be at least 1, got 0"),
])
def test_run_refuses_a_configuration_that_cannot_work_before_anything_runs(
        capsys, tmp_path, args, message):
    root = tmp_path / "root"
    code = cli.main(["run", "--pipeline-root", str(root)] + args)
    err = capsys.readouterr().err
    assert code == 2 and f"movielens-tfx run: error: {message}" in err
    assert "Traceback" not in err and not root.exists()


@pytest.mark.slow
def test_a_training_split_smaller_than_a_batch_stops_the_trainer_with_one_line(capsys, tmp_path):
    """Data from a path: its size is known only once read, so the Trainer checks it before
    training."""
    data = synthetic.generate(SyntheticConfig(num_users=50, num_movies=80, num_ratings=1000))
    synthetic.write_ml100k(data, str(tmp_path / "small"))
    code = cli.main(["run", "--data", str(tmp_path / "small"), "--pipeline-root",
                     str(tmp_path / "root"), "--serving-dir", str(tmp_path / "serving")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "movielens-tfx run: error: --model batch_size=1024 is more than the" in err
    assert not (tmp_path / "serving").exists()


@pytest.mark.slow
def test_a_refusal_by_the_gate_names_the_check_and_exits_3(capsys, tmp_path):
    code = cli.main(["run", "--pipeline-root", str(tmp_path / "root"), "--serving-dir",
                     str(tmp_path / "serving"), "--synthetic-users", "60",
                     "--synthetic-movies", "200", "--synthetic-ratings", "3000",
                     "--model", "epochs=1", "--model", "batch_size=256",
                     "--gate", "max_rmse_over_baseline=0.2"])
    out = capsys.readouterr().out
    assert code == cli.EXIT_NOT_BLESSED == 3, out
    assert "no blessed model yet to compare with: NOT blessed, nothing pushed: RMSE is " in out
    assert "x the global mean rating's, above --gate max_rmse_over_baseline=0.2" in out
    assert not (tmp_path / "serving").exists()
    # The run's page is written all the same, and says why.
    page = tmp_path / "root" / cli.REPORT_PAGE
    assert f"Report: {page} (open it in a browser)" in out
    assert "Not blessed, nothing pushed: RMSE is " in page.read_text(encoding="utf-8")


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
    assert f"Serving: {serving}/movielens/1\n" in out
    assert tf.io.gfile.exists(f"{serving}/movielens/1/saved_model.pb")
    # Every slice the Evaluator measured, one line each, the whole first.
    table = out.split("Slices of the gate split (reported; the gate decides on the whole):\n")[1]
    rows = [line for line in table.splitlines()[1:] if line.startswith("  ")]
    names = [line[2:].split("  ")[0] for line in rows]
    assert names[0] == "all" and names[-3:] == [
        "movie_popularity head", "movie_popularity torso", "movie_popularity tail"]
    assert all(name.startswith("user_activity ") for name in names[1:-3])
    # The page of the run, in the pipeline root; a second name of the RunReport's artifact.
    page = tmp_path / cli.REPORT_PAGE
    assert out.rstrip().endswith(f"Report: {page} (open it in a browser)")
    [artifact] = glob.glob(str(tmp_path / "RunReport" / "report" / "*" / "value"))
    assert os.path.samefile(page, artifact)
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.slow
def test_a_write_failure_in_the_trainer_fails_the_run_with_one_line(capsys, tmp_path,
                                                                   monkeypatch):
    """An OSError from the file layer while the Trainer exports: exit 1, one line naming
    the component and the error, the served version untouched, nothing left that a later
    run could take for the Trainer's output."""
    from common import storage
    from trainer import export

    where = ["--pipeline-root", str(tmp_path / "root"), "--serving-dir",
             str(tmp_path / "serving"), *small_run.ARGS]
    assert cli.main(["run", *where, "--model", "epochs=2"]) == 0
    capsys.readouterr()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "export", full_disk)
    code = cli.main(["run", *where, "--model", "epochs=1"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED == 1
    assert err.strip().splitlines()[-1].startswith(
        "movielens-tfx run: error: Trainer failed: OSError: [Errno 28] No space left on device")
    assert "Traceback" not in err
    assert storage.versions(str(tmp_path / "serving" / "movielens")) == [1]
    models = sorted(os.listdir(tmp_path / "root" / "Trainer" / "model"))
    assert len(models) == 1, models  # the failed execution's output folder was removed


@pytest.mark.slow
def test_a_degraded_model_on_the_real_movielens_100k_is_refused(capsys, tmp_path, ml100k_dir):
    """One epoch at a learning rate that cannot move the weights: the default gate's ratio
    checks refuse it on real data, the run exits 3 and nothing is pushed."""
    code = cli.main(["run", "--data", ml100k_dir, "--pipeline-root", str(tmp_path / "root"),
                     "--serving-dir", str(tmp_path / "serving"), "--model", "epochs=1",
                     "--model", "learning_rate=1e-7", "--model", "embedding_dim=8"])
    out = capsys.readouterr().out
    assert code == cli.EXIT_NOT_BLESSED, out
    assert "NOT blessed, nothing pushed: " in out
    assert "above --gate max_rmse_over_baseline=0.95" in out
    assert not (tmp_path / "serving").exists()


@pytest.mark.slow
def test_a_write_failure_in_the_push_fails_the_run_with_one_line(capsys, tmp_path, monkeypatch):
    """An OSError from the file layer while the Pusher copies the blessed model: exit 1, one
    line, the served version untouched and no staging copy left for TF Serving or a later
    push to pick up; the next run pushes the same model whole."""
    import shutil

    from common import storage
    from components.pusher import component as pusher

    model_dir = tmp_path / "serving" / "movielens"
    where = ["--pipeline-root", str(tmp_path / "root"), "--serving-dir",
             str(tmp_path / "serving"), *small_run.ARGS, "--gate", "max_rmse_increase=10",
             "--gate", "max_top_k_accuracy_decrease=1"]
    assert cli.main(["run", *where, "--model", "epochs=2"]) == 0
    capsys.readouterr()
    real_copy = shutil.copyfile
    monkeypatch.setattr(shutil, "copyfile", faults.full_disk_on_call(real_copy, 2))
    code = cli.main(["run", *where, "--model", "epochs=3"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("movielens-tfx run: error: VersionedPusher failed: Error: ")
    assert "No space left on device" in line and "Traceback" not in err
    assert sorted(os.listdir(model_dir)) == sorted(["1", pusher.LOCK_FILE])
    monkeypatch.setattr(shutil, "copyfile", real_copy)
    assert cli.main(["run", *where, "--model", "epochs=3"]) == 0
    assert "  Trainer (cached," in capsys.readouterr().out
    assert storage.versions(str(model_dir)) == [1, 2]
    # A failure after the push (the report's) says that the model was pushed before it.
    from components.run_report import page

    def broken(facts):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(page, "render", broken)
    code = cli.main(["run", *where, "--model", "epochs=3", "--validation",
                     "max_unseen_users=0.3"])  # a new bound: the data checks and the report rerun
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED
    assert err.strip().splitlines()[-1].startswith(
        "movielens-tfx run: error: RunReport failed: OSError: ")
    assert f"the model was pushed to {model_dir / '2'} before it" in err
    assert storage.versions(str(model_dir)) == [1, 2]
