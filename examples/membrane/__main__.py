"""Learn a vibrating membrane with the string example's models and training loop.

    python -m examples.membrane --physics=linear|nonlinear --model=dmd|koopman|koopman_var|all \
        --seeds=N --json=PATH --figure=PATH

Data: Gaussian 2D plucks at rest (1–10 mm) of the authors' membrane (`physics.py`), u on an
Nx × Ny grid flattened to W points: the string's (T, W, C) layout, so its models, DMD start,
recipes, loop (`examples.string.train`), seeds, JSON, audio (--audio: the velocity at --pickup)
and synthesis speed (× real time) apply unchanged. DMD here, and the modal models' start, is the
two-frame (Hankel) DMD of u, exact on the linear membrane. Defaults are sized for a 2-core CPU
(4 kHz, 0.25 s, 9 × 8 points, the 24 lowest modes); --fs, --seconds, --points and --modes reach
the authors' sizes (16 kHz, 0.5 s, 41 × 37 points, up to 225 modes). On the nonlinear membrane
Koopman_var also raises each pluck's frequencies by an MLP of its encoding's power (--pitch).
"""

import dataclasses
import json
import logging
import time
from pathlib import Path

import matplotlib
import numpy as np
from absl import app, flags
from einops import rearrange

from examples.membrane import physics
from examples.membrane.input_pipeline import make_plucks
from examples.string.audio import speed, write_audio
from examples.string.models import dmd_parameters, eigenvalues_of, make_model, uses_dmd
from examples.string.train import RECIPES, aggregate, evaluate, fit, full_precision

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

MODELS = ["dmd", "koopman", "koopman_var"]
# Koopman_var's pitch raise (KoopmanString.raise_by) by default on the nonlinear membrane: a louder pluck
# sounds higher (7 % at 10 mm), and stays so, since the membrane barely decays in 0.25 s (README).
PITCH = {"linear": False, "nonlinear": True}

_PHYSICS = flags.DEFINE_enum("physics", "linear", ["linear", "nonlinear"], "Linear or Berger membrane.")
_MODEL = flags.DEFINE_enum("model", "all", [*MODELS, "all"], "Model to train; all: each, one table.")
_MODES = flags.DEFINE_integer("modes", 24, "Lowest membrane modes simulated.", lower_bound=1)
_MODEL_SIZE = flags.DEFINE_integer(
    "model_size", 32, "Complex state size D of the modal models.", lower_bound=1
)
_FS = flags.DEFINE_float("fs", 4000.0, "Sample rate, Hz.")
_SECONDS = flags.DEFINE_float("seconds", 0.25, "Length of each pluck, s.")
_POINTS = flags.DEFINE_list("points", ["9", "8"], "Grid points Nx,Ny, edges included.")
_TRAIN = flags.DEFINE_integer("train", 200, "Training plucks.", lower_bound=1)
_VAL = flags.DEFINE_integer("val", 50, "Validation plucks.", lower_bound=1)
_ENCODER_HIDDEN = flags.DEFINE_integer(
    "encoder_hidden",
    0,
    "Koopman models: add an MLP of this width to the linear encoder (0: none).",
    lower_bound=0,
)
_PITCH = flags.DEFINE_bool(
    "pitch", None, "Koopman_var: raise each pluck's frequencies by an MLP of its |x0|² (default: PITCH)."
)
_STEPS = flags.DEFINE_integer(
    "steps", None, "Adam steps per model (default: the string's recipe).", lower_bound=0
)
_BATCH = flags.DEFINE_integer(
    "batch", None, "Trajectories per training step (default: the recipe's).", lower_bound=1
)
_LOSS_FRAMES = flags.DEFINE_integer(
    "loss_frames", None, "Score this many frames of each trajectory, a random subset; 0: all.", lower_bound=0
)
_LR = flags.DEFINE_float("lr", None, "Adam learning rate of all but the eigenvalues (default: the recipe's).")
_LR_DYNAMICS = flags.DEFINE_float(
    "lr_dynamics", None, "Adam learning rate of the eigenvalue parameters (default: the recipe's)."
)
_SEED = flags.DEFINE_integer("seed", 0, "First seed of the models' initialisation and batches.")
_SEEDS = flags.DEFINE_integer("seeds", 1, "Train each model with this many seeds.", lower_bound=1)
_DATA_SEED = flags.DEFINE_integer("data_seed", 0, "Seed of the plucks (fixed across --seeds).")
_JSON = flags.DEFINE_string("json", None, "Write the results to this JSON file.")
_FIGURE = flags.DEFINE_string("figure", None, "Save the figure here.")
_AUDIO = flags.DEFINE_string("audio", None, "Write WAVs of validation plucks and an index.html here.")
_AUDIO_PLUCKS = flags.DEFINE_integer(
    "audio_plucks", 4, "Validation plucks written by --audio.", lower_bound=1
)
_PICKUP = flags.DEFINE_list("pickup", ["0.3", "0.4"], "Listening point x,y as fractions of Lx, Ly.")
_SPEED = flags.DEFINE_bool("speed", True, "Time synthesis: × real time at fs and 48 kHz, 64-sample blocks.")


def save_figure(path, true, preds, points, fs, learned):
    """True against predicted frames as images at a few times, the fundamental's pitch, eigenvalues."""
    times = [0, true.shape[0] // 8, true.shape[0] // 2]
    rows = {"true": true, **preds}
    fig, axes = plt.subplots(len(rows), len(times) + 2, figsize=(3 * (len(times) + 2), 2.6 * len(rows)))
    limit = np.abs(true[..., 0]).max()
    shape = np.outer(
        np.sin(np.linspace(0, np.pi, points[0])), np.sin(np.linspace(0, np.pi, points[1]))
    ).ravel()
    for r, (name, frames) in enumerate(rows.items()):
        for c, t in enumerate(times):
            image = frames[t, :, 0].reshape(points).T
            axes[r, c].imshow(image, vmin=-limit, vmax=limit, cmap="RdBu", origin="lower")
            axes[r, c].set(title=f"{name}, t = {t / fs * 1e3:.0f} ms", xticks=[], yticks=[])
        q = frames[:, :, 0] @ shape  # the (1, 1) mode's amplitude, up to a factor
        up = np.flatnonzero((q[:-1] < 0) & (q[1:] >= 0))
        crossings = (up + q[up] / (q[up] - q[up + 1])) / fs
        axes[r, -2].plot((crossings[1:] + crossings[:-1]) / 2, 1 / np.diff(crossings))
        axes[r, -2].set(title=f"{name}: fundamental, Hz", xlabel="t / s")
        circle = np.exp(1j * np.linspace(0, np.pi, 200))
        axes[r, -1].plot(circle.real, circle.imag, color="0.7")
        if name in learned:
            axes[r, -1].scatter(learned[name].real, np.abs(learned[name].imag), s=8)
        axes[r, -1].set(title=f"{name}: eigenvalues", aspect="equal")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)
    full_precision()
    start = time.perf_counter()
    points = tuple(int(p) for p in _POINTS.value)
    if len(points) != 2 or min(points) < 3:
        raise app.UsageError(f"--points={','.join(_POINTS.value)}: expected Nx,Ny, each ≥ 3")
    pickup = tuple(float(p) for p in _PICKUP.value)
    if len(pickup) != 2 or not all(0 <= p <= 1 for p in pickup):
        raise app.UsageError(f"--pickup={','.join(_PICKUP.value)}: expected x,y, each in [0, 1]")
    point = round(pickup[0] * (points[0] - 1)) * points[1] + round(pickup[1] * (points[1] - 1))
    fs, n_steps = _FS.value, round(_SECONDS.value * _FS.value)
    rng = np.random.default_rng(_DATA_SEED.value)
    nonlinear = _PHYSICS.value == "nonlinear"
    frames = make_plucks(
        physics.MEMBRANE, _TRAIN.value + _VAL.value, rng, _MODES.value, n_steps, fs, points, nonlinear
    )
    frames = frames[..., :1]  # the models see and predict displacement u, as on the string
    frames /= frames[: _TRAIN.value].std()
    train_frames, val_frames = frames[: _TRAIN.value], frames[_TRAIN.value :]
    shape = f"(T, W, C) = {frames.shape[1:]}"
    print(f"membrane, {_PHYSICS.value}: {_TRAIN.value} train / {_VAL.value} validation, {shape}")
    flat = rearrange(train_frames, "b t w c -> b t (w c)")
    results, preds, learned, fits = [], {}, {}, {}
    pitch = PITCH[_PHYSICS.value] if _PITCH.value is None else _PITCH.value
    for name in MODELS if _MODEL.value == "all" else [_MODEL.value]:
        model = make_model(name, _MODEL_SIZE.value, "lru", frames.shape[2], _ENCODER_HIDDEN.value, pitch)
        if not fits:  # u alone: DMD of two consecutive frames (Hankel), exact on linear data
            fits[2] = dmd_parameters(flat, _MODEL_SIZE.value, delays=2)
        recipe = RECIPES[(_PHYSICS.value, "dmd")]
        overrides = dict(
            steps=_STEPS, lr=_LR, lr_dynamics=_LR_DYNAMICS, batch=_BATCH, loss_frames=_LOSS_FRAMES
        )
        recipe = dataclasses.replace(
            recipe, **{k: f.value for k, f in overrides.items() if f.value is not None}
        )
        runs = []
        for seed in range(_SEED.value, _SEED.value + (1 if name == "dmd" else _SEEDS.value)):
            print(f"--- {name}, seed {seed}")
            init = "dmd" if nonlinear else "dmd_eigs"
            dmd = fits[2] if uses_dmd(name, init) else None
            recipe = dataclasses.replace(recipe, seed=seed)
            model, params, seconds, _ = fit(name, model, train_frames, val_frames, init, seed, recipe, dmd)
            pred, run = evaluate(name, model, params, val_frames, seconds)
            runs.append(run)
            print(f"{name}, seed {seed}: validation rel. MSE {run['rel_mse']:.3e}, {seconds:.0f} s")
            if seed == _SEED.value:
                preds[name], learned[name] = pred, eigenvalues_of(params, model)
                speeds = speed(model, params, val_frames[0, 0], fs, point, 1) if _SPEED.value else {}
        results.append({**aggregate(runs), **speeds})
    print(
        f"\n{'model':<12} {'params':>8} {'train s':>8} {'seeds':>5} {'rel MSE (std)':>21} {'worst':>10} "
        f"{'× RT':>8} {'× RT 48k':>9} {'block 64':>9}"
    )
    for r in results:
        mse = f"{r['rel_mse']:.3e} ({r['rel_mse_std']:.1e})"
        rtf = f"{r['rtf']:>8.0f} {r['rtf_48k']:>9.1f} {r['block_64_48k']:>9.3f}" if "rtf" in r else ""
        print(
            f"{r['model']:<12} {r['params']:>8} {r['train_seconds']:>8.0f} {len(r['rel_mse_seeds']):>5} "
            f"{mse:>21} {r['rel_mse_worst']:>10.3e} {rtf}"
        )
    if _SPEED.value:
        print("× RT: times faster than real time at fs and at 48 kHz; block 64: a 64-sample block's cost")
        print("at 48 kHz as a fraction of its duration")
    if _JSON.value:
        record = {
            "membrane": _PHYSICS.value,
            "fs": fs,
            "n_steps": n_steps,
            "points": points,
            "pitch": pitch,
            "results": results,
        }
        Path(_JSON.value).write_text(json.dumps(record, indent=1))
    if _FIGURE.value:
        learned["true"] = physics.discrete_eigenvalues(physics.MEMBRANE, fs, _MODES.value)
        save_figure(_FIGURE.value, val_frames[0], {k: v[0] for k, v in preds.items()}, points, fs, learned)
        print(f"figure: {_FIGURE.value}")
    if _AUDIO.value:
        k = _AUDIO_PLUCKS.value
        if _FIGURE.value:
            Path(_AUDIO.value).mkdir(parents=True, exist_ok=True)
            (Path(_AUDIO.value) / "figure.png").write_bytes(Path(_FIGURE.value).read_bytes())
        where = f"x, y = {pickup[0]:g}, {pickup[1]:g} of the membrane"
        figure = "figure.png" if _FIGURE.value else None
        write_audio(
            _AUDIO.value, val_frames[:k], {n: p[:k] for n, p in preds.items()}, fs, point, figure, where
        )
        print(f"audio: {_AUDIO.value}/index.html")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    app.run(main)
