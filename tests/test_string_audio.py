"""Hearing trained models: WAV files of the pickup, the results page, block synthesis as a stream."""

import re
import shutil
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import paper_plucks, relative, started

from examples.string import audio


def test_wavs_are_the_pickup_velocity_of_what_they_came_from(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((2, 50, 9, 1)).cumsum(axis=1)
    preds = {"koopman": truth + 0.1 * rng.standard_normal(truth.shape), "loud": 3 * truth}
    audio.write_audio(tmp_path, truth, preds, 4000.0, point=2, figure="figure.png")
    for i in range(2):
        velocity = audio.velocity(truth[i, :, 2, 0], 4000.0)
        np.testing.assert_allclose(velocity[1:-1], (truth[i, 2:, 2, 0] - truth[i, :-2, 2, 0]) / 2 * 4000.0)
        gain = audio.FULL_SCALE / np.abs(velocity).max()
        for name, frames in {"truth": truth, **preds}.items():
            pcm, fs = audio.read_wav(tmp_path / f"pluck{i}_{name}.wav")
            assert fs == 4000
            expected = np.clip(audio.velocity(frames[i, :, 2, 0], 4000.0) * gain * 32767, -32768, 32767)
            np.testing.assert_allclose(pcm, expected, atol=0.5 + 1e-9)  # 16-bit rounding
        assert np.abs(audio.read_wav(tmp_path / f"pluck{i}_truth.wav")[0]).max() == round(0.9 * 32767)
    page = (tmp_path / "index.html").read_text()
    assert page.count("<audio") == 6 and "figure.png" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium here (Debian package chromium)")
def test_the_page_plays_in_a_browser(tmp_path):
    """Headless Chromium: every <audio> loads and reports its duration, no console error."""
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((2, 400, 9, 1)).cumsum(axis=1)
    audio.write_audio(tmp_path, truth, {"koopman": truth}, 4000.0, point=2)
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--autoplay-policy=no-user-gesture-required",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            (tmp_path / "index.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    status = re.search(r'<p id="status">([^<]*)</p>', result.stdout)
    assert status and status[1].startswith("loaded 4 durations"), (
        result.stdout[-2000:] + result.stderr[-2000:]
    )
    assert [float(d) for d in status[1].split()[-1].split(",")] == [0.1] * 4
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console


def tiny_model(name, x64, pitch=False):
    frames = paper_plucks(6, string="nonlinear", samples=50, points=9)
    frames = frames[..., :1] / frames[..., :1].std()
    model, params = started(name, frames, model_size=6, pitch=pitch, init="dmd_eigs", channels="u")
    if pitch:  # raises that are not 0: about a percent, different for each state
        out = params["raise_pitch"]["layers_2"]
        params["raise_pitch"]["layers_2"] = jax.tree.map(
            lambda p: 0.1 * jax.random.normal(jax.random.key(2), p.shape), out
        )
    if name == "koopman_var":
        out = params["gain"]["out"]  # a gain that is not 1, so that the test sees it
        params["gain"]["out"] = jax.tree.map(
            lambda p: 0.3 * jax.random.normal(jax.random.key(1), p.shape), out
        )
    dtype = jnp.float64 if x64 else jnp.float32
    params = jax.tree.map(lambda p: jnp.asarray(p, dtype), params)
    return model, params, jnp.asarray(frames[0, 0], dtype)


@pytest.mark.parametrize("name, pitch", [("koopman", False), ("koopman_var", False), ("koopman_var", True)])
@pytest.mark.parametrize("x64_run, tolerance", [(False, 1e-6), (True, 1e-12)], ids=["float32", "float64"])
def test_blocks_equal_the_one_shot_rollout(name, pitch, x64_run, tolerance, request):
    """Synthesis in blocks of 64, the state carried between them, against the model's own rollout
    (the path training and prediction use), at 48 000 steps; float32 and float64."""
    if x64_run:
        request.getfixturevalue("x64")
    model, params, first = tiny_model(name, x64_run, pitch)
    n_steps, point = 48000, 3
    rollout = jax.jit(lambda p, f: model.apply({"params": p}, f[None], n_steps, None))
    whole = rollout(params, first)[0, :, point, 0]
    start, block = audio.block_synthesiser(model, params, 64, n_steps, point, 1)
    state, parts = start(first), []
    for _ in range(n_steps // 64):
        samples, state = block(state)
        parts.append(samples)
    stream = np.concatenate(parts)
    assert stream.dtype == (np.float64 if x64_run else np.float32)
    assert relative(stream, np.asarray(whole)) <= tolerance
    one_shot = audio.synthesiser(model, params, n_steps, point)(first)
    assert relative(np.asarray(one_shot), np.asarray(whole)) <= tolerance
