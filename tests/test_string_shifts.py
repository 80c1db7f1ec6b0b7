"""Beyond the training distribution (examples/string/shifts.py), and the training set's size and
remedies (train_plucks, mirror, weight decay)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import started, string_config

from examples.string import input_pipeline, metrics, readme, results, shifts, train
from examples.string.configs.base import ConfigError, validate
from examples.string.input_pipeline import get_dataset
from examples.string.models import eigenvalues_of

TINY = dict(train=6, val=4, test=0, samples=30, points=9, modes=3, model_size=3, speed=False)


def grid_peaks(frames):
    """Each pluck's largest |u| on the grid at the first frame."""
    return np.max(np.abs(frames[:, 0, :, 0]), axis=1)


def test_the_amplitude_split_is_respected():
    """Trained on peaks in (1, 7) mm, scored on (7, 10) mm and (0.2, 1) mm: no training pluck outside
    its range, no scored pluck inside it. Gaussian plucks away from the ends, on W − 2 modes: the
    first frame is the drawn grid shape exactly (the projection is the inverse sine transform)."""
    fields = {**TINY, "train": 40, "val": 30, "modes": 7}
    config = string_config(**fields, peak=(1e-3, 7e-3), shifts=("louder", "softer"))
    data = input_pipeline.get_dataset(config)
    trained = grid_peaks(data.train * data.scale)
    assert np.all((trained >= 1e-3 * (1 - 1e-6)) & (trained <= 7e-3 * (1 + 1e-6)))
    scored = shifts.plucks(config, data.scale)
    louder, softer = (grid_peaks(scored[s] * data.scale) for s in ("louder", "softer"))
    assert louder.shape == softer.shape == (30,)
    assert np.all((louder >= 7e-3 * (1 - 1e-6)) & (louder <= 1e-2 * (1 + 1e-6)))
    assert np.all((softer >= 2e-4 * (1 - 1e-6)) & (softer <= 1e-3 * (1 + 1e-6)))


def test_each_shift_is_fresh_plucks_of_its_own_draw():
    config = string_config(**TINY, shifts=("longer", "shape"), horizon=0.02)
    data = input_pipeline.get_dataset(config)
    scored = shifts.plucks(config, data.scale)
    assert scored["longer"].shape == (4, round(0.02 * config.fs), 9, 2)
    assert not np.allclose(scored["longer"][:, : config.samples], data.val)  # not the validation plucks
    assert shifts.shifted(config, "shape").ic == "noise"
    assert shifts.shifted(shifts.shifted(config, "shape"), "shape").ic == config.ic


def test_the_per_second_errors_combine_to_the_whole():
    rng = np.random.default_rng(0)
    true = rng.standard_normal((3, 10, 4, 1)) * np.linspace(3, 0.5, 10)[None, :, None, None]
    pred = true + 0.2 * rng.standard_normal(true.shape)
    per_segment, share = metrics.segment_errors(pred, true, 4)  # segments of 4, 4, 2 steps
    assert len(per_segment) == 3 and sum(share) == pytest.approx(1.0, rel=1e-12)
    whole = np.sum((pred - true) ** 2) / np.sum(true**2)
    assert np.dot(share, per_segment) == pytest.approx(whole, rel=1e-12)
    last = np.sum((pred[:, 8:] - true[:, 8:]) ** 2) / np.sum(true[:, 8:] ** 2)
    assert per_segment[2] == pytest.approx(last, rel=1e-12)


@pytest.mark.parametrize("name", ["koopman", "koopman_var", "gru"])
def test_a_longer_horizon_begins_with_the_shorter_prediction(name):
    config = string_config(**TINY)
    data = input_pipeline.get_dataset(config)
    model, params = started(name, data.train, init="random", **TINY)
    short = train.predict(model, params, data.val[:, 0], 30)
    long = train.predict(model, params, data.val[:, 0], 120)
    np.testing.assert_allclose(long[:, :30], short, rtol=1e-5, atol=1e-6)


def test_shifts_are_scored_beside_validation(tmp_path):
    """A tiny run scored on every shift: each model's shifted errors, their ratio to its validation
    error, the horizon per second, all in its results file."""
    config = string_config(
        **TINY, models=("dmd", "koopman"), steps=2, shifts=shifts.SHIFTS, horizon=0.0225, fs=4000.0
    )
    report = train.train_and_evaluate(config, get_dataset(config), log=lambda line: None)
    true, rollouts = shifts.score(config, report)
    assert true.shape == (90, 9, 2) and set(rollouts) == {"dmd", "koopman"}
    shifts.save_figure(tmp_path / "longer.png", report.results, true, rollouts, config.fs)
    assert (tmp_path / "longer.png").stat().st_size > 0
    for result in report.results:
        scores = result["shifts"]
        assert set(scores) == set(shifts.SHIFTS)
        for s in scores.values():
            assert np.isfinite(s["rel_mse"]) and s["ratio"] == pytest.approx(s["rel_mse"] / result["rel_mse"])
        longer = scores["longer"]
        assert len(longer["per_second"]) == 1 and len(longer["by_tenth"]) == 1  # 90 steps: one 0.1 s, part
        results.write(tmp_path, config, report.dataset, result, report.commit)
        record = json.loads((tmp_path / f"{result['model']}.json").read_text())
        assert record["result"]["shifts"]["louder"]["rel_mse"] == scores["louder"]["rel_mse"]


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(shifts=("wider",)), "--shifts=wider"),
        (dict(shifts=("longer",), horizon=0.001), "horizon=0.001"),
        (dict(shifts=("louder",), louder=(1e-2, 1e-3)), "louder=0.01,0.001"),
        (dict(shifts=("shape",), data="plucks.npz"), "data=plucks.npz"),
    ],
)
def test_a_shift_that_cannot_be_made_is_named(fields, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        shifts.check(string_config(**TINY, **fields))


def test_training_subsets_are_nested_and_the_validation_set_fixed():
    """train_plucks=n trains on the first n of the same draw; seeds change the initialisation, not the
    subset."""
    full = input_pipeline.get_dataset(string_config(**TINY, mirror_below=0))
    for n in (2, 4):
        part = input_pipeline.get_dataset(string_config(**TINY, train_plucks=n, mirror_below=0))
        np.testing.assert_allclose(part.train * part.scale, full.train[:n] * full.scale, rtol=1e-6)
        np.testing.assert_allclose(part.val * part.scale, full.val * full.scale, rtol=1e-6)
        other_seed = input_pipeline.get_dataset(string_config(**TINY, train_plucks=n, mirror_below=0, seed=5))
        np.testing.assert_array_equal(other_seed.train, part.train)
    with pytest.raises(ValueError, match="train_plucks=7"):
        input_pipeline.get_dataset(string_config(**TINY, train_plucks=7))


def test_mirror_adds_each_pluck_reversed_in_space():
    """mirror adds each training pluck mirrored, and so does a set of fewer than mirror_below plucks
    (the default recipe's remedy for small sets); at mirror_below or more, nothing is added."""
    plain = input_pipeline.get_dataset(string_config(**TINY, train_plucks=3, mirror_below=3))
    assert len(plain.train) == 3 and not plain.mirrored
    for fields in (dict(mirror=True, mirror_below=0), dict(mirror_below=4)):
        mirrored = input_pipeline.get_dataset(string_config(**TINY, train_plucks=3, **fields))
        scaled = mirrored.train * mirrored.scale
        assert len(scaled) == 6 and mirrored.mirrored, fields
        np.testing.assert_allclose(scaled[:3], plain.train * plain.scale, rtol=1e-6)
        np.testing.assert_allclose(scaled[3:, :, ::-1], plain.train * plain.scale, rtol=1e-6)
    with pytest.raises(ConfigError, match="--mirror_below=-1: expected an integer ≥ 0"):
        validate(string_config(**TINY, mirror_below=-1))


def test_weight_decay_shrinks_all_but_the_eigenvalues():
    """With a zero gradient Adam's step is zero, and AdamW's first step is p ← p (1 − lr · wd) for every
    parameter but the eigenvalues, which keep their values."""
    params = {"nu_log": jnp.array([0.3, 0.5]), "decoder": {"kernel": jnp.array([[1.0, -2.0]])}}
    optimizer = train.make_optimizer(10, 0.1, 0.1, 1.0, weight_decay=0.5)
    zero = jax.tree.map(jnp.zeros_like, params)
    updates, _ = optimizer.update(zero, optimizer.init(params), params)
    new = jax.tree.map(lambda p, u: p + u, params, updates)
    np.testing.assert_allclose(new["nu_log"], [0.3, 0.5], rtol=1e-7)
    np.testing.assert_allclose(new["decoder"]["kernel"], [[0.95, -1.9]], rtol=1e-6)


def test_a_run_records_its_training_error():
    config = string_config(**TINY, models=("koopman",), steps=2)
    report = train.train_and_evaluate(config, get_dataset(config), log=lambda line: None)
    model, params = report.runs[0].model, report.runs[0].params
    data = report.dataset
    expected = metrics.errors(train.predict(model, params, data.train[:4, 0], 30), data.train[:4])[0]
    assert report.results[0]["train_rel_mse"] == pytest.approx(expected, rel=1e-9)
    lam = eigenvalues_of(params, model)
    frequency = metrics.frequency_errors(lam, data.true_eigenvalues, data.train)
    assert report.results[0]["frequency_error_seeds"] == [frequency]  # the linear string's are known


def test_the_learning_curve_trains_each_size_on_its_subset(tmp_path):
    config = string_config(**{**TINY, "train": 10}, models=("dmd", "koopman"), steps=2)
    workdir = tmp_path / "tiny_curve"
    points = train.learning_curve(config, get_dataset, [2, 6], workdir, log=lambda line: None)
    assert [size for size, _, _ in points["koopman"]] == [2, 6]
    for size in (2, 6):
        record = json.loads((workdir / str(size) / "koopman.json").read_text())
        assert record["config"]["train_plucks"] == size
        assert record["result"]["rel_mse"] == points["koopman"][[2, 6].index(size)][1]
    # A later run adds a size: the curve's points are every size the directory holds, by size.
    more = train.learning_curve(config, get_dataset, [10], workdir, log=lambda line: None)
    held = readme.curve_points(workdir)
    assert [point[:3] for point in held["koopman"]] == points["koopman"] + more["koopman"]
    assert "| tiny_curve | Koopman | 10 | 1 |" in readme.render_curve(tmp_path)
