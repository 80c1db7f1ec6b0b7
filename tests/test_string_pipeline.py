"""The input pipeline: trajectory files in, one clear line for a bad one; --save_data meets --data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from einops import rearrange

from examples.string import input_pipeline, models, physics

ROOT = Path(__file__).resolve().parents[1]


def good_file(tmp_path, **arrays):
    rng = np.random.default_rng(0)
    base = dict(u=rng.standard_normal((3, 5, 4)), v=rng.standard_normal((3, 5, 4)), fs=np.array(4000.0))
    base.update(arrays)
    path = tmp_path / "data.npz"
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


def test_load_trajectories(tmp_path):
    frames, fs = input_pipeline.load_trajectories(good_file(tmp_path))
    assert frames.shape == (3, 5, 4, 2) and fs == 4000.0
    frames, _ = input_pipeline.load_trajectories(good_file(tmp_path, v=None))
    assert frames.shape == (3, 5, 4, 1)


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(u=None), "no array 'u'"),
        (dict(u=np.ones((3, 5))), r"u has shape \(3, 5\): expected \(N, T, W\)"),
        (dict(v=np.ones((3, 5, 3))), r"v has shape \(3, 5, 3\): expected u's \(3, 5, 4\)"),
        (dict(u=np.full((3, 5, 4), np.nan)), "u has non-finite"),
        (dict(u=np.ones((1, 5, 4)), v=None), "expected N ≥ 2"),
        (dict(fs=None), "fs missing"),
        (dict(fs=np.array("4 kHz")), "fs missing or not a positive number"),
    ],
)
def test_bad_data_file_is_one_clear_line(tmp_path, arrays, message):
    path = good_file(tmp_path, **arrays)
    with pytest.raises(ValueError, match=message):
        input_pipeline.load_trajectories(path)
    result = run_example(f"--data={path}", "--val=1", "--steps=0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--data=" in lines[0], result.stderr


def run_example(*args):
    return subprocess.run(
        [sys.executable, "-m", "examples.string", *args, "--figure="],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_saved_data_trains_through_data(tmp_path):
    """--save_data writes what --data reads: the two meet at the same arrays."""
    path, table = tmp_path / "plucks.npz", tmp_path / "result.json"
    small = [
        "--train=3",
        "--val=1",
        "--test=1",
        "--seconds=0.02",
        "--points=7",
        "--modes=3",
        "--model_size=2",
        "--steps=2",
    ]
    first = run_example(
        "--string=nonlinear", "--simulator=dop853", f"--save_data={path}", "--model=dmd", *small
    )
    assert first.returncode == 0, first.stderr
    assert "3 train / 1 validation / 1 test (unused)" in first.stdout
    frames, fs = input_pipeline.load_trajectories(path)
    assert frames.shape == (5, 80, 7, 2) and fs == 4000.0
    second = run_example(f"--data={path}", "--model=all", f"--json={table}", *small)
    assert second.returncode == 0, second.stderr
    record = json.loads(table.read_text())
    assert record["string"] == "plucks.npz" and record["n_steps"] == 80 and record["fs"] == 4000.0
    assert [r["model"] for r in record["results"]] == ["dmd", "koopman", "koopman_var", "gru"]
    keys = {
        "model",
        "rel_mse",
        "rel_mae",
        "rel_mse_std",
        "rel_mse_worst",
        "rel_mse_seeds",
        "params",
        "rel_mse_batches",
    }
    keys |= {"train_seconds", "train_seconds_seeds", "stopped_at", "stopped_at_seeds", "rtf", "rtf_48k"}
    for r in record["results"]:
        assert set(r) == keys | ({"block_64_48k"} if r["model"] != "gru" else set()), r
        assert r["rtf"] > 0 and r["rtf_48k"] > 0 and r["rel_mse_seeds"] == [r["rel_mse"]]


def test_paper_plucks_follow_their_spec():
    """Gaussian plucks at rest, peaks 1–10 mm (resolved with 80 modes), the 800/100/100 split."""
    plucks = input_pipeline.PLUCKS["paper"]
    assert plucks.counts == (800, 100, 100) and plucks.string == physics.NYLON_B
    assert (plucks.modes, plucks.points, plucks.fs, plucks.seconds) == (10, 101, 4000.0, 1.0)
    frames = input_pipeline.make_plucks(plucks, 40, np.random.default_rng(0), "linear", n_steps=3, n_modes=80)
    peaks = np.abs(frames[:, 0, :, 0]).max(axis=1)
    assert 0.97e-3 <= peaks.min() and peaks.max() <= 10.03e-3 and peaks.max() > 8e-3
    np.testing.assert_array_equal(frames[:, 0, :, 1], 0)  # released at rest
    _, omega, _ = physics.string_modes(physics.NYLON_B, 1)
    assert 246 < omega[0] / (2 * np.pi) < 248  # B3


def dmd_error(frames, delays=1):
    flat = rearrange(frames[:-4] / frames[:-4].std(), "b t w c -> b t (w c)")
    val = rearrange(frames[-4:] / frames[:-4].std(), "b t w c -> b t (w c)")
    lam, encoder, decoder = models.dmd_parameters(flat, 12, delays)
    powers = lam[None, :] ** np.arange(val.shape[1])[:, None]
    pred = np.real(np.einsum("fd,td,bd->btf", decoder, powers, val[:, 0] @ encoder.T))
    return np.sum((pred - val) ** 2) / np.sum(val**2)


def test_dmd_separates_the_linear_from_the_nonlinear_paper_string():
    """A small paper-like set: DMD of (u, v) is exact on the linear string, far off on the nonlinear
    one; on u alone a one-step map fails, two frames (Hankel) are exact."""
    plucks = input_pipeline.PLUCKS["paper"]
    rng = np.random.default_rng(1)
    linear = input_pipeline.make_plucks(plucks, 16, rng, "linear", n_steps=400, n_points=31)
    nonlinear = input_pipeline.make_plucks(plucks, 16, rng, "nonlinear", n_steps=400, n_points=31)
    assert dmd_error(linear) <= 1e-8
    assert dmd_error(nonlinear) >= 1e-2 and dmd_error(nonlinear) >= 1e6 * dmd_error(linear)
    assert dmd_error(linear[..., :1]) >= 0.1
    assert dmd_error(linear[..., :1], delays=2) <= 1e-8
