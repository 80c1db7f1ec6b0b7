"""The input pipeline: trajectory files in, one clear line for a bad one; --save_data meets --data."""

import dataclasses
import json

import numpy as np
import pytest
from conftest import paper_plucks, run_python
from einops import rearrange

from examples.string import input_pipeline, models, physics
from examples.string.configs import default


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
    result = run_example(f"--data={path}", "--val=1", "--steps=1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "data=" in lines[0], result.stderr


def run_example(*args):
    return run_python("-m", "examples.string", *args, "--figure=")


@pytest.mark.slow
def test_saved_data_trains_through_data(tmp_path):
    """--save_data writes what --data reads: the two meet at the same arrays."""
    path, table = tmp_path / "plucks.npz", tmp_path / "result.json"
    small = ["--val=1", "--test=1", "--points=7", "--modes=3", "--model_size=2", "--steps=2", "--gru_steps=2"]
    small += ["--gru_hidden=4", "--ssm_steps=2", "--ssm_states=4", "--s5_blocks=2"]
    first = run_example(
        "--string=nonlinear", "--simulator=dop853", f"--save_data={path}", "--train=3", "--samples=80", *small
    )
    assert first.returncode == 0, first.stderr
    frames, fs = input_pipeline.load_trajectories(path)
    assert frames.shape == (5, 80, 7, 2) and fs == 4000.0
    names = ["dmd", "koopman", "s5"]  # a modal model that streams its synthesis, one that does not
    second = run_example(
        f"--data={path}", "--data_test=1", f"--models={','.join(names)}", f"--json={table}", *small
    )
    assert second.returncode == 0, second.stderr
    assert "3 train (and each mirrored) / 1 validation / 1 test (unused)" in second.stdout  # 3 < mirror_below
    record = json.loads(table.read_text())
    assert record["string"] == "plucks.npz" and record["n_steps"] == 80 and record["fs"] == 4000.0
    assert [r["model"] for r in record["results"]] == names
    keys = {"model", "rel_mse", "rel_mae", "rel_mse_std", "rel_mse_worst", "rel_mse_seeds", "params", "seeds"}
    keys |= {"rel_mse_batches", "rel_mse_batches_seeds", "rel_mae_seeds", "rtf", "rtf_48k"}
    keys |= {"train_seconds", "train_seconds_seeds", "stopped_at", "stopped_at_seeds"}
    keys |= {"train_rel_mse", "train_rel_mse_seeds"}  # no frequency error: a file's modes are unknown
    keys |= {"rel_mse_pluck_std_seeds", "rel_mae_pluck_std_seeds"}
    for r in record["results"]:
        assert set(r) == keys | ({"block_64_48k"} if models.MODELS[r["model"]].streams else set()), r
        assert r["rtf"] > 0 and r["rtf_48k"] > 0 and r["rel_mse_seeds"] == [r["rel_mse"]]


@pytest.mark.parametrize("data_test, n_test", [(0, 0), (10, 10), (0.25, 30)])
def test_a_file_holds_out_test_trajectories_only_when_asked(tmp_path, data_test, n_test):
    """120 trajectories and --val=20 train with the defaults (100 of them); --data_test holds out a
    number of them or a fraction, from the end."""
    u = np.random.default_rng(0).normal(size=(120, 6, 5))
    u[:, :, [0, -1]] = 0.0
    np.savez(tmp_path / "f.npz", u=u, fs=4000.0)
    config = default.Config(data=str(tmp_path / "f.npz"), val=20, data_test=data_test, mirror_below=0)
    dataset = input_pipeline.get_dataset(config)
    assert (len(dataset.train), len(dataset.val), dataset.n_test) == (100 - n_test, 20, n_test)
    np.testing.assert_allclose(
        dataset.val * dataset.scale, u[100 - n_test : 120 - n_test, ..., None], rtol=1e-6
    )


def test_paper_plucks_follow_their_spec():
    """Plucks at rest, grid peaks 1–10 mm (resolved with 80 modes), the 800/100/100 split, 4 kHz."""
    config = default.get_config()
    assert (config.train, config.val, config.test) == (800, 100, 100) and config.material == "nylon_b"
    assert (input_pipeline.n_modes(config), config.points, config.fs, config.samples) == (
        10,
        101,
        4000.0,
        4000,
    )
    config = dataclasses.replace(config, samples=3, modes=80)
    frames = input_pipeline.make_plucks(config, 40, np.random.default_rng(0))
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
    linear = paper_plucks(16, seed=1, samples=400, points=31)
    nonlinear = paper_plucks(16, seed=2, string="nonlinear", samples=400, points=31)
    assert dmd_error(linear) <= 1e-8
    assert dmd_error(nonlinear) >= 1e-2 and dmd_error(nonlinear) >= 1e6 * dmd_error(linear)
    assert dmd_error(linear[..., :1]) >= 0.1
    assert dmd_error(linear[..., :1], delays=2) <= 1e-8


def draws(config, n_plucks, seed):
    """(centre, width, peak, noise or None) of each pluck, read from the generator in its authors'
    order: centre, width, the noise (if any: one value per grid point), peak."""
    rng, dx = np.random.default_rng(seed), 1 / (config.points - 1)
    out = []
    for _ in range(n_plucks):
        centre, width = rng.uniform(*config.centre), rng.uniform(2 * dx, config.width[1])
        noise = rng.uniform(0, 1, config.points) if config.ic == "noise" else None
        out.append((centre, width, rng.uniform(*config.peak), noise))
    return out


def test_gaussian_plucks_are_their_authors_draw():
    """exp(−((x − m)/s)²) on the 101-point unit grid, scaled so that its grid maximum is the drawn
    peak exactly; m ∈ (0.3, 0.7), s ∈ (2Δx, 0.1), peak ∈ (1, 10) mm; the ends at rest."""
    config = default.get_config()
    shapes = input_pipeline.initial_shapes(config, 200, np.random.default_rng(5))
    x = np.linspace(0, 1, 101)
    for shape, (centre, width, peak, _) in zip(shapes, draws(config, 200, 5), strict=True):
        assert 0.3 <= centre <= 0.7 and 0.02 <= width <= 0.1 and 1e-3 <= peak <= 1e-2
        assert shape.max() == pytest.approx(peak, rel=1e-15)
        gaussian = np.exp(-(((x - centre) / width) ** 2))
        np.testing.assert_allclose(shape[1:-1], peak * gaussian[1:-1] / gaussian.max(), rtol=1e-12)
        assert shape[0] == shape[-1] == 0.0
        if width >= 0.05:  # well resolved: at m ± s, interpolated, e^-1 of the continuous peak
            for edge in (centre - width, centre + width):
                value = np.interp(edge, x, shape) / peak * gaussian.max()
                assert value == pytest.approx(np.exp(-1), rel=0.03)


def test_noise_plucks_are_their_authors_draw():
    """Each grid point uniform in (0, 1), scaled so that the grid maximum is the peak, then the ends
    held at rest (as their solver does: a maximum at an end is then lost)."""
    config = dataclasses.replace(default.get_config(), ic="noise")
    shapes = input_pipeline.initial_shapes(config, 300, np.random.default_rng(2))
    expected = np.array([noise * peak / noise.max() for _, _, peak, noise in draws(config, 300, 2)])
    peaks = expected.max(axis=1)
    expected[:, [0, -1]] = 0
    np.testing.assert_allclose(shapes, expected, rtol=1e-15)
    assert np.mean(shapes.max(axis=1) == peaks) > 0.9 and np.all(shapes >= 0)
    relative_values = (shapes[:, 1:-1] / peaks[:, None]).ravel()
    assert abs(relative_values.mean() - 0.5) < 0.01  # uniform in (0, 1), divided by a max near 1
    assert np.all(np.diff(np.sort(relative_values)[::3000]) > 0)  # no two equal, as noise has


def test_projection_recovers_grid_modes():
    """The FTM projection of a grid function made of sines recovers their amplitudes (the discrete
    sine transform's orthogonality on the grid: Σ_i sin(nπi/N) sin(mπi/N) = N/2 δ_nm)."""
    string, n_points = physics.NYLON_B, 101
    x = np.linspace(0, string.length, n_points)
    amplitudes = np.array([3.0, 0.0, -1.5, 0.25, 0.0, 0.5])
    k = np.arange(1, 7) * np.pi / string.length
    u = amplitudes @ np.sin(np.outer(k, x))
    np.testing.assert_allclose(input_pipeline.project(string, u, 6), amplitudes, atol=1e-12)


def test_sixteen_kilohertz_is_the_papers_column():
    """--fs=16000: 25 modes and 4000 steps (0.25 s), as the paper; 4 kHz: 10 modes."""
    config = dataclasses.replace(default.get_config(), fs=16000.0)
    assert input_pipeline.n_modes(config) == 25 and config.samples == 4000
    assert input_pipeline.n_modes(default.get_config()) == 10
    frames = input_pipeline.make_plucks(dataclasses.replace(config, points=31), 2, np.random.default_rng(0))
    assert frames.shape == (2, 4000, 31, 2)
    q = frames[0, :, :, 0] @ np.sin(np.linspace(0, np.pi, 31))  # the fundamental's amplitude, at 16 kHz
    up = np.flatnonzero((q[:-1] < 0) & (q[1:] >= 0))
    f0 = physics.string_modes(physics.NYLON_B, 1)[1][0] / (2 * np.pi)
    assert len(up) == pytest.approx(0.25 * f0, abs=2)
