"""Listening to the string models: the pickup signal, WAV files, a results page, and how fast a
trained model synthesises (× real time), in one shot and in blocks as an audio callback asks.

What a pickup hears: a magnetic pickup's voltage is proportional to the string's velocity at the
pickup point, so the audio is the velocity there, the time derivative of the displacement (central
differences), for the truth and for every model alike.
"""

import html
import statistics
import time
import wave
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from examples.string.metrics import relative_mse
from examples.string.models import unbatched

FULL_SCALE = 0.9  # the loudest truth sample of a pluck, as a fraction of 16-bit full scale


def pickup_point(width, pickup):
    """Grid index nearest the fraction `pickup` of the length (W points, ends included)."""
    return round(pickup * (width - 1))


def velocity(u, fs):
    """Time derivative of displacements u (..., T) by central differences (one-sided at the ends)."""
    return np.gradient(np.asarray(u, np.float64), axis=-1) * fs


def write_wav(path, signal, fs, gain):
    """signal × gain as 16-bit PCM at fs, clipped at full scale; returns the PCM samples written."""
    pcm = np.clip(np.round(np.asarray(signal) * gain * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(round(fs))
        f.writeframes(pcm.tobytes())
    return pcm


def read_wav(path):
    """(samples int16, fs) of a mono 16-bit WAV."""
    with wave.open(str(path), "rb") as f:
        if f.getnchannels() != 1 or f.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        return np.frombuffer(f.readframes(f.getnframes()), "<i2"), f.getframerate()


def write_audio(directory, truth, preds, fs, point, figure=None, where="a magnetic pickup"):
    """WAVs of the velocity at grid point `point` for each pluck (truth (K, T, W, C), preds
    {name: (K, T, W, C)}), normalised together per pluck (the truth's peak at FULL_SCALE; a louder
    model clips), and an index.html with the players side by side, each model's relative MSE on
    that pluck, the figure; `where` says what listens there."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(len(truth)):
        signals = {"truth": velocity(truth[i, :, point, 0], fs)}
        signals.update({name: velocity(pred[i, :, point, 0], fs) for name, pred in preds.items()})
        gain = FULL_SCALE / np.abs(signals["truth"]).max()
        cells = []
        for name, signal in signals.items():
            file = f"pluck{i}_{name}.wav"
            write_wav(directory / file, signal, fs, gain)
            error = ""
            if name != "truth":
                error = f"<br>rel. MSE {relative_mse(preds[name][i], truth[i]):.2e}"
            player = f'<audio controls preload="auto" src="{file}"></audio>'
            cells.append(f"<td><b>{html.escape(name)}</b>{error}<br>{player}</td>")
        rows.append(f"<tr><th>pluck {i}</th>{''.join(cells)}</tr>")
    image = f'<p><img src="{html.escape(figure)}" alt="figure" style="max-width:100%"></p>' if figure else ""
    page = PAGE.format(fs=f"{fs:g}", point=point, where=html.escape(where), rows="\n".join(rows), image=image)
    (directory / "index.html").write_text(page)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Validation plucks: listen</title>
<link rel="icon" href="data:,">
<style>body{{font-family:sans-serif}} td,th{{padding:6px;vertical-align:top;text-align:left}}
audio{{width:220px}} img{{max-width:100%}}</style>
</head><body>
<h1>Validation plucks: the truth and each model</h1>
<p>Velocity at grid point {point} ({where}), {fs} Hz, 16-bit. Each pluck's files share one
gain (the truth's peak at 0.9 of full scale), so their loudness compares; a louder model clips.</p>
<table>
{rows}
</table>
{image}
<p id="status">loading</p>
<script>
const players = [...document.querySelectorAll("audio")];
Promise.all(players.map(a => a.readyState >= 1 ? Promise.resolve() : new Promise((ok, fail) => {{
  a.addEventListener("loadedmetadata", ok); a.addEventListener("error", () => fail(a.src));
}}))).then(() => {{
  document.getElementById("status").textContent =
    "loaded " + players.length + " durations " + players.map(a => a.duration.toFixed(3)).join(",");
}}, src => {{ document.getElementById("status").textContent = "failed " + src; }});
</script>
</body></html>
"""


def synthesiser(model, params, n_steps, point, streams=True):
    """A jitted first frame (W, C) -> (T,) displacement at `point`: the whole rollout, but only that
    point decoded (the GRU has no such shortcut: it computes every point at every step). The
    parameters are arguments of the compiled function, not constants folded into it."""
    if not streams:
        run = jax.jit(lambda p, first: model.apply({"params": p}, first[None], n_steps)[0, :, point, 0])
    else:
        single = unbatched(model)
        run = jax.jit(
            lambda p, first: single.apply({"params": p}, first, n_steps, point, method="synthesise")
        )
    return partial(run, params)


def block_synthesiser(model, params, length, n_steps, point, channels):
    """Jitted (start(first frame) -> state, block(state) -> (samples (length,), state)) of a modal
    model: up to n_steps samples synthesised in blocks of `length`, the state (x0, the point's decoder
    row, step, pitch raise) carried from block to block (KoopmanString.start).

    The rollout's factors, the same for every pluck, are computed once, and each pluck's start, with
    the parameters as arguments, as training computes them: folded as constants, the eigenvalues would
    round otherwise, and at 48 000 steps the stream would differ from the model's own rollout by ~1e-4
    in float32. The block itself closes over the parameters: XLA specialises its small products to
    them (a quarter faster here than with the parameters as arguments).
    """
    single = unbatched(model)
    variables = {"params": params}
    factors = jax.jit(lambda p: single.apply({"params": p}, n_steps, method="factors"))(params)
    start = jax.jit(lambda p, first: single.apply({"params": p}, first, point, method="start"))
    block = jax.jit(
        lambda state: single.apply(
            variables, state, factors, length, point, channels, method="synthesise_block"
        )
    )
    return partial(start, params), block


def speed(model, params, first_frame, fs, point, channels, streams=True):
    """× real time of one second synthesised at fs and at 48 kHz (batch 1, jit, median of 20), and
    for the modal models the cost of a 64-sample block at 48 kHz as a fraction of its duration."""
    row = {}
    for key, rate in (("rtf", fs), ("rtf_48k", 48000.0)):
        n = round(rate)
        synthesise = synthesiser(model, params, n, point, streams)
        row[key] = 1.0 / median_seconds(synthesise, first_frame)
    if streams:
        start, block = block_synthesiser(model, params, 64, 48000, point, channels)
        row["block_64_48k"] = median_seconds(block, start(first_frame), repeats=200) / (64 / 48000)
    return row


def time_synthesis(report):
    """Each model's synthesis `speed` (its first seed), added to its result in a train_and_evaluate
    Report: called by the command line after training, not by the loop."""
    data = report.dataset
    first = jnp.asarray(data.val[0, 0])
    for result, run in zip(report.results, report.first(), strict=True):
        result.update(
            speed(run.model, run.params, first, data.fs, data.point, data.val.shape[3], run.kind.streams)
        )


def median_seconds(fn, *args, repeats=20, rounds=5):
    """Median wall time of fn(*args) over `repeats` calls after one warm-up (compilation), made in
    `rounds` rounds 0.1 s apart: on a shared machine a burst of another process's load then moves a
    few of the calls, not all of them."""
    jax.block_until_ready(fn(*args))
    times = []
    for i in range(repeats):
        if i and i % -(-repeats // rounds) == 0:
            time.sleep(0.1)
        tic = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - tic)
    return statistics.median(times)
