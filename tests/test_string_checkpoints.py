"""Trained models kept on disk: --save and --load, and one clear line for a checkpoint that does not fit."""

import fcntl
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_python

TINY = ["--config=nonlinear", "--train=4", "--val=2", "--test=1", "--samples=120", "--points=9", "--steps=2"]
TINY += [
    "--gru_steps=2",
    "--ssm_steps=2",
    "--lru_layers=2",
    "--s5_layers=2",
    "--ssm_states=8",
    "--s5_blocks=2",
]
TINY += ["--gru_hidden=50", "--gru_dmd_steps=2"]  # the DMD-started GRU holds the fit's 25 complex states


def run_example(*args):
    return run_python("-m", "examples.string", "--figure=", "--nospeed", *args)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Every model, tiny, trained (two seeds of each trained one) and saved, and the table that run
    printed: made once for all of pytest-xdist's workers, in their shared directory, under a lock."""
    shared = tmp_path_factory.getbasetemp().parent
    directory, table = shared / "checkpoint", shared / "checkpoint.json"
    with open(shared / "checkpoint.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not table.exists():
            result = run_example(*TINY, "--models=all", "--seeds=2", f"--save={directory}", f"--json={table}")
            assert result.returncode == 0, result.stderr
    return directory, json.loads(table.read_text())


@pytest.mark.slow
def test_load_gives_the_saved_table(checkpoint, tmp_path):
    """Every model loads, the GRUs (the DMD-started one's scale per seed), the LRU, S5 and Koopman_var
    (its power scale per seed) included, and is heard."""
    directory, saved = checkpoint
    table = tmp_path / "loaded.json"
    result = run_example(
        *TINY, "--models=all", f"--load={directory}", f"--json={table}", f"--audio={tmp_path}"
    )
    assert result.returncode == 0, result.stderr
    models = ["dmd", "koopman", "koopman_var", "lru", "s5", "gru", "gru_dmd"]
    assert all((tmp_path / f"pluck0_{name}.wav").exists() for name in models)
    loaded = json.loads(table.read_text())
    assert [r["model"] for r in loaded["results"]] == models
    for a, b in zip(saved["results"], loaded["results"], strict=True):
        assert a["model"] == b["model"] and a["params"] == b["params"]
        np.testing.assert_allclose(a["rel_mse_seeds"], b["rel_mse_seeds"], rtol=1e-6)
        assert a["train_seconds"] == b["train_seconds"]


def edited(**fields):
    """A copy of the checkpoint whose configuration has `fields` written into it by hand."""

    def make_dir(directory, tmp):
        shutil.copytree(directory, tmp / "edited")
        record = json.loads((tmp / "edited" / "config.json").read_text())
        record["config"].update(fields)
        (tmp / "edited" / "config.json").write_text(json.dumps(record))
        return tmp / "edited"

    return make_dir


only_koopman = edited(models=["koopman"])


@pytest.mark.parametrize(
    "make_dir, args, message",
    [
        (lambda d, tmp: tmp, [], "no readable config.json: not a checkpoint"),
        (lambda d, tmp: d, ["--points=11"], "points is 11 here, 9 in the checkpoint"),
        (lambda d, tmp: d, ["--channels=uv"], "channels is 'uv' here, 'u' in the checkpoint"),
        (only_koopman, ["--models=gru"], "no gru in the checkpoint (it has koopman)"),
        (edited(steps=-3), [], "its configuration's steps=-3: expected an integer ≥ 1"),
        (edited(ic="sine"), [], "its configuration's ic=sine: expected one of gaussian, noise"),
    ],
    ids=["not_a_checkpoint", "other_width", "other_channels", "other_model", "bad_steps", "bad_ic"],
)
def test_a_mismatch_is_one_line_and_writes_nothing(checkpoint, tmp_path, make_dir, args, message):
    directory = make_dir(checkpoint[0], tmp_path)
    out = tmp_path / "out"
    result = run_example(*TINY, f"--load={directory}", *args, f"--json={out}.json", f"--audio={out}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not Path(f"{out}.json").exists() and not out.exists()


def test_a_checkpoint_of_another_model_size_is_one_line(checkpoint, tmp_path):
    """Parameters that do not fit the model the config describes (here: an edited encoder width)."""
    directory = tmp_path / "edited"
    shutil.copytree(checkpoint[0], directory)
    config = json.loads((directory / "config.json").read_text())
    config["config"]["encoder_hidden"] += 1
    (directory / "config.json").write_text(json.dumps(config))
    result = run_example(*TINY, f"--load={directory}")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "does not match this model" in lines[0], (
        result.stderr
    )
