"""Learn a vibrating string: modal (Koopman) models, a Varying model and a GRU on the same plucks.

    python -m examples.string [--string=linear|nonlinear | --data=PATH.npz] [--model=koopman|all|...]

Run it as a module from the repository root. The package's files are listed in its __init__.py.

Data (--plucks): the paper's data set (its nylon B string, 1–10 mm Gaussian plucks at rest, 800 /
100 / 100) or the milder steel one, linear or tension-modulated (--string); or trajectories from a
file (--data). The models see u, or u and v (--channels), each channel normalised by its training
standard deviation, on W grid points: (T, W, C). Every model predicts the whole trajectory from
its first frame. Models (--model):
  dmd          dynamic mode decomposition: least squares, no gradient step.
  koopman      encoder -> x0 (D,) complex -> LRUDynamics -> decoder (Dense) per frame; the encoder
               is a Dense layer, plus an MLP with --encoder_hidden.
  koopman_var  the same with LRUDynamicsVarying: the rollout times a gain exp(MLP(|x|²)), a
               log-magnitude and a phase (PolarGain), divided by its value at the start.
  gru          BatchedDeepRNN with GRU cells, x0 = the first frame, zero inputs (the spec's baseline).
All gradient-trained models share one loop (train.py's `train`, configured by a `Recipe`): Adam
with gradient clipping, a separate rate for the eigenvalues, a horizon curriculum (windows of
--window steps, doubled in stages until they span the whole trajectory), long windows scored on a
random subset of their frames (--loss_frames) and the paper's per-step latent loss (--latent).
Initialisation (--init) of the modal models: eigenvalues from DMD (dmd_eigs), eigenvalues, encoder
and decoder from DMD (dmd), or the modules' own initialisers (random); each has its default recipe
(RECIPES) and model size (MODEL_SIZES). From DMD, Koopman may start from a frequency bank (--bank):
more states per DMD mode at slightly raised frequencies, from which the encoder picks each pluck's.
--seeds trains each model with several seeds (the data fixed); --curves writes the validation
error against time. --save and --load keep trained models
(orbax), --audio writes what a pickup hears and a page to listen to it, and the table gives how
many times faster than real time each model synthesises.
"""

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from absl import logging as absl_logging
from einops import rearrange

from examples.string import physics
from examples.string.audio import pickup_point, speed, write_audio
from examples.string.checkpoints import CheckpointError, check_data, read_config, restore, save
from examples.string.figures import save_figure
from examples.string.input_pipeline import PLUCKS, load_trajectories, make_plucks
from examples.string.models import (
    MODELS,
    GRUString,
    dmd_parameters,
    eigenvalues_of,
    frequency_bank,
    make_model,
    uses_dmd,
)
from examples.string.train import (
    MODEL_SIZES,
    RECIPES,
    aggregate,
    evaluate,
    fit,
    frequency_errors,
    full_precision,
)

# What each string's table runs with no other flag: the nonlinear string starts the modal models at the
# DMD solution, encoder and decoder included, gives the encoder an MLP, and starts Koopman from a
# frequency bank of 8 more frequencies per mode, 0.1 % apart: the paper's plucks raise the
# fundamental by up to about 1 % (README, nonlinear string).
DEFAULTS = {
    "linear": dict(init="dmd_eigs", encoder_hidden=0, bank=0),
    "nonlinear": dict(init="dmd", encoder_hidden=256, bank=8),
}
PAPER = {  # validation relative MSE in the paper (Gaussian plucks, 4 kHz, 4000 steps)
    "nonlinear": {"dmd": 1.19, "koopman": 0.104, "koopman_var": 0.0113},
    "linear": {"dmd": 0.0, "koopman": 0.011, "koopman_var": 0.0020},
}

_STRING = flags.DEFINE_enum(
    "string", "linear", ["linear", "nonlinear"], "Linear or tension-modulated string."
)
_PLUCKS = flags.DEFINE_enum(
    "plucks", "paper", list(PLUCKS), "Data set: the paper's (nylon B, 1–10 mm) or the milder steel one."
)
_CHANNELS = flags.DEFINE_enum(
    "channels", None, ["u", "uv"], "What the models see and predict: u, or u and v (default: the data set's)."
)
_SIMULATOR = flags.DEFINE_enum(
    "simulator", "lawson", ["lawson", "dop853"], "Nonlinear string: Lawson RK4 or scipy's adaptive DOP853."
)
_SAVE_DATA = flags.DEFINE_string(
    "save_data", None, "Write the simulated trajectories to this .npz (u, v, fs)."
)
_DATA = flags.DEFINE_string("data", None, "Train on trajectories from this .npz (u, optional v, fs).")
_MODEL = flags.DEFINE_multi_enum(
    "model",
    None,
    [*MODELS, "all"],
    "Models to train (repeat for several; default koopman; with --load, every saved one); all: each.",
)
_DYNAMICS = flags.DEFINE_enum("dynamics", "lru", ["lru", "discrete"], "Koopman's LRU or discrete dynamics.")
_INIT = flags.DEFINE_enum(
    "init",
    None,
    ["dmd", "dmd_eigs", "random"],
    "Modal models: eigenvalues from DMD (dmd_eigs); eigenvalues, encoder and decoder from DMD (dmd); "
    "or everything from the modules' own initialisers (random). Default: DEFAULTS of the --string.",
)
_MODES = flags.DEFINE_integer(
    "modes", None, "String modes N in the simulated data (default: the set's).", lower_bound=1
)
_MODEL_SIZE = flags.DEFINE_integer(
    "model_size",
    None,
    "Complex state size D of the modal models (default: MODEL_SIZES of the --init).",
    lower_bound=1,
)
_SECONDS = flags.DEFINE_float("seconds", None, "Length of each simulated pluck, s (default: the set's).")
_POINTS = flags.DEFINE_integer(
    "points", None, "Grid points W of the simulated data (default: the set's).", lower_bound=3
)
_TRAIN = flags.DEFINE_integer("train", None, "Simulated training plucks (default: the set's).", lower_bound=1)
_VAL = flags.DEFINE_integer(
    "val",
    None,
    "Validation trajectories, after the training ones (default: the set's; --data: 16).",
    lower_bound=1,
)
_TEST = flags.DEFINE_integer(
    "test",
    None,
    "Test trajectories, held out at the end, never used here (default: the set's; --data: 0).",
    lower_bound=0,
)
_BATCH = flags.DEFINE_integer(
    "batch", None, "Trajectories per training step (default: the recipe's).", lower_bound=1
)
_ENCODER_HIDDEN = flags.DEFINE_integer(
    "encoder_hidden",
    None,
    "Koopman models: add an MLP of this width to the linear encoder (0: none; default: DEFAULTS).",
    lower_bound=0,
)
_BANK = flags.DEFINE_integer(
    "bank",
    None,
    "Koopman from DMD (--init=dmd): K more states per DMD mode, at its frequency raised by --bank_step, "
    "2·--bank_step, ... (models.frequency_bank); the modes are the --model_size strongest (default: the "
    "string's modes), D = modes·(K + 1). 0: none. Default: DEFAULTS of the --string.",
    lower_bound=0,
)
_BANK_STEP = flags.DEFINE_float("bank_step", 1e-3, "Relative frequency step of --bank.", lower_bound=0.0)
# The recipe's flags default to the recipe of the --init (RECIPES); given, they override it.
_STEPS = flags.DEFINE_integer("steps", None, "Adam steps per model.", lower_bound=0)
_LR = flags.DEFINE_float("lr", None, "Adam learning rate (cosine-decayed) of all but the eigenvalues.")
_LR_DYNAMICS = flags.DEFINE_float("lr_dynamics", None, "Adam learning rate of the eigenvalue parameters.")
_WINDOW = flags.DEFINE_integer("window", None, "First curriculum window, steps; 0: whole trajectories.")
_LATENT = flags.DEFINE_float("latent", None, "Weight of the per-step latent loss (modal models).")
_LOSS_FRAMES = flags.DEFINE_integer(
    "loss_frames",
    None,
    "Score longer windows on this many of their frames, a random subset; 0: all.",
    lower_bound=0,
)
_BUDGET = flags.DEFINE_float(
    "budget", None, "Opt-in guard: stop a model's training after this many seconds (the table says so)."
)
_CLIP = flags.DEFINE_float("clip", 1.0, "Global gradient-norm clip.")
_SEED = flags.DEFINE_integer("seed", 0, "First seed of the models' initialisation and batches.")
_SEEDS = flags.DEFINE_integer(
    "seeds", 1, "Train each model with this many seeds, from --seed.", lower_bound=1
)
_GRU_SEEDS = flags.DEFINE_integer("gru_seeds", 1, "Seeds of the GRU (slow: 2 s a step).", lower_bound=1)
_DATA_SEED = flags.DEFINE_integer("data_seed", 0, "Seed of the simulated plucks (fixed across --seeds).")
_FIGURE = flags.DEFINE_string("figure", None, "Where to save the figure (default: none).")
# bench.py defines --json too; allow_override lets both be imported in one (test) process.
_JSON = flags.DEFINE_string("json", None, "Write the results to this JSON file.", allow_override=True)
_SAVE = flags.DEFINE_string(
    "save", None, "Write every trained model (parameters and config) to this directory."
)
_LOAD = flags.DEFINE_string("load", None, "Skip training: evaluate the models saved in this directory.")
_AUDIO = flags.DEFINE_string("audio", None, "Write WAVs of validation plucks and an index.html here.")
_AUDIO_PLUCKS = flags.DEFINE_integer(
    "audio_plucks", 4, "Validation plucks written by --audio.", lower_bound=1
)
_PICKUP = flags.DEFINE_float(
    "pickup", 0.2, "Pickup position, fraction of the length.", lower_bound=0, upper_bound=1
)
_SPEED = flags.DEFINE_bool("speed", True, "Time synthesis: × real time at fs and 48 kHz, 64-sample blocks.")
_CURVES = flags.DEFINE_string(
    "curves", None, "Write each model's validation curve [[seconds, step, rel MSE], ...] to this JSON file."
)


def fail(message):
    """One line on stderr, exit status 2, no traceback."""
    print(f"examples.string: {message}", file=sys.stderr)
    sys.exit(2)


def load_data():
    """(frames (N, T, W, C) float32, fs, name of the data, true eigenvalues or None, (train, val, test))."""
    if _DATA.value:
        try:
            frames, fs = load_trajectories(_DATA.value)
        except ValueError as error:
            fail(str(error))
        val, test = _VAL.value or 16, _TEST.value or 0
        if val + test >= len(frames):
            fail(f"--val={val}, --test={test}: expected fewer than the {len(frames)} trajectories in --data")
        return (
            frames.astype(np.float32),
            fs,
            Path(_DATA.value).name,
            None,
            (len(frames) - val - test, val, test),
        )
    plucks = PLUCKS[_PLUCKS.value]
    counts = tuple(
        f.value if f.value is not None else n
        for f, n in zip((_TRAIN, _VAL, _TEST), plucks.counts, strict=True)
    )
    if _SECONDS.value:
        plucks = dataclasses.replace(plucks, seconds=_SECONDS.value)
    rng = np.random.default_rng(_DATA_SEED.value)
    frames = make_plucks(
        plucks,
        sum(counts),
        rng,
        _STRING.value,
        _SIMULATOR.value,
        n_points=_POINTS.value,
        n_modes=_MODES.value,
    )
    if _SAVE_DATA.value:
        np.savez(_SAVE_DATA.value, u=frames[..., 0], v=frames[..., 1], fs=plucks.fs)
    n_modes = _MODES.value or plucks.modes
    linear = _STRING.value == "linear"
    true_lam = physics.discrete_eigenvalues(plucks.string, n_modes, plucks.fs) if linear else None
    return frames, plucks.fs, f"{_PLUCKS.value} {_STRING.value}", true_lam, counts


def recipe_for(name, string, start_from, seed):
    """The model's recipe: RECIPES of the data and --init, overridden by the flags given."""
    given = dict(
        steps=_STEPS,
        lr=_LR,
        lr_dynamics=_LR_DYNAMICS,
        window=_WINDOW,
        latent=_LATENT,
        loss_frames=_LOSS_FRAMES,
        budget=_BUDGET,
        batch=_BATCH,
    )
    recipe = RECIPES["gru" if name == "gru" else (string, start_from)]
    recipe = dataclasses.replace(
        recipe, clip=_CLIP.value, seed=seed, **{k: f.value for k, f in given.items() if f.value is not None}
    )
    return dataclasses.replace(recipe, latent=0.0) if name == "gru" else recipe


def data_description(data_name, channels, frames, fs):
    """What a checkpoint's data must match: where the data came from, its shape and rate."""
    source = {"data": _DATA.value and Path(_DATA.value).name}
    if not _DATA.value:
        source = {"plucks": _PLUCKS.value, "string": _STRING.value, "data_seed": _DATA_SEED.value}
    return {**source, "channels": channels, "shape": list(frames.shape[1:]), "fs": fs}


def build_model(name, spec):
    """A model from its checkpoint spec (make_model's arguments and Koopman_var's power scale)."""
    model = make_model(name, spec["d_hidden"], spec["dynamics"], spec["features"], spec["encoder_hidden"])
    return model.clone(power_scale=spec["power_scale"]) if name == "koopman_var" else model


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)  # no note about backends this machine lacks
    absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every step of a save
    full_precision()
    start = time.perf_counter()
    frames, fs, data_name, true_lam, (n_train, n_val, n_test) = load_data()
    channels = _CHANNELS.value or (PLUCKS[_PLUCKS.value].channels if not _DATA.value else "uv")
    frames = frames[..., : len(channels)]  # u is channel 0, v channel 1
    described = data_description(data_name, channels, frames, fs)
    config = None
    if _LOAD.value:
        try:
            config = read_config(_LOAD.value)
            check_data(_LOAD.value, config["data"], described)
        except CheckpointError as error:
            fail(str(error))
    # Per channel (v is ~1000 times u); a checkpoint brings the normalisation it was trained with.
    scale = np.asarray(config["scale"], np.float32) if config else frames[:n_train].std(axis=(0, 1, 2))
    frames /= scale
    train_frames, val_frames = frames[:n_train], frames[n_train : n_train + n_val]
    n_steps, width = frames.shape[1], frames.shape[2]
    shape = f"(T, W, C) = {frames.shape[1:]} ({channels}), fs {fs:g} Hz"
    print(f"data {data_name}: {n_train} train / {n_val} validation / {n_test} test (unused), {shape}")

    string = _STRING.value if not _DATA.value else "nonlinear"  # a file's data may be either
    init = _INIT.value or DEFAULTS[string]["init"]
    encoder_hidden = (
        DEFAULTS[string]["encoder_hidden"] if _ENCODER_HIDDEN.value is None else _ENCODER_HIDDEN.value
    )
    start_from = "random" if init == "random" else "dmd"  # the key of RECIPES and MODEL_SIZES
    model_size = _MODEL_SIZE.value or MODEL_SIZES[start_from]
    bank = DEFAULTS[string]["bank"] if _BANK.value is None else _BANK.value
    if bank and init != "dmd":
        fail(f"--bank={bank} with --init={init}: a frequency bank starts from DMD's encoder; use --init=dmd")
    string_modes = model_size if _DATA.value else _MODES.value or PLUCKS[_PLUCKS.value].modes
    bank_modes = min(model_size, _MODEL_SIZE.value or string_modes)  # DMD's strongest states, banked
    seeds = range(_SEED.value, _SEED.value + _SEEDS.value)
    given = _MODEL.value or []
    names = MODELS if "all" in given else [name for name in MODELS if name in given] or ["koopman"]
    if config:
        names = list(config["models"]) if not given or "all" in given else names
        missing = [name for name in names if name not in config["models"]]
        if missing:
            has = ", ".join(config["models"])
            fail(f"--load={_LOAD.value}: no {', '.join(missing)} in the checkpoint (it has {has})")
    point = pickup_point(width, _PICKUP.value)
    results, preds, learned, curves, kept, specs = [], {}, {}, {}, {}, {}
    fits = {}  # DMD fits by delays, each counted in the time of every model using it: (params, s)
    for name in names:
        features = frames.shape[2] * frames.shape[3]
        if config:
            spec = config["models"][name]
            model_seeds = spec["seeds"]
            model = build_model(name, spec)
        else:
            size = bank_modes * (bank + 1) if name == "koopman" and bank else model_size
            model = make_model(name, size, _DYNAMICS.value, features, encoder_hidden)
            # DMD is one least-squares fit, the same for every seed; the GRU runs --gru_seeds seeds.
            model_seeds = (
                seeds[:1] if name == "dmd" else seeds[: _GRU_SEEDS.value] if name == "gru" else seeds
            )
        # The DMD model is the one-step map of what the models see; the modal models, seeing u alone,
        # start from two-frame (Hankel) DMD, which is exact for the linear string.
        delays = 2 if name != "dmd" and channels == "u" else 1
        if not config and uses_dmd(name, init) and delays not in fits:
            tic = time.perf_counter()
            flat = rearrange(train_frames, "b t w c -> b t (w c)")
            fits[delays] = dmd_parameters(flat, model_size, delays), time.perf_counter() - tic
        dmd, dmd_seconds = fits.get(delays, (None, 0.0))
        if name == "koopman" and bank and not config:
            dmd = frequency_bank(dmd, bank_modes, bank, _BANK_STEP.value)
        runs = []
        for i, seed in enumerate(model_seeds):
            print(f"--- {name}, seed {seed}")
            stopped_at = None
            if config:
                target = model.init(jax.random.key(0), jnp.asarray(val_frames[:1, 0]), 2, None)["params"]
                try:
                    params = restore(_LOAD.value, name, seed, target)
                except CheckpointError as error:
                    fail(str(error))
                seeded = model
                saved = next(r for r in config["results"] if r["model"] == name)
                seconds = saved["train_seconds_seeds"][i]
                stopped_at = saved["stopped_at_seeds"][i]
            else:
                recipe = recipe_for(name, string, start_from, seed)
                seeded, params, seconds, trained = fit(
                    name, model, train_frames, val_frames, init, seed, recipe, dmd
                )
                seconds += dmd_seconds if uses_dmd(name, init) else 0.0
                if trained:
                    stopped_at, curves[f"{name}/{seed}"] = trained.stopped_at, trained.curve
            kept[(name, seed)] = params
            pred, run = evaluate(name, seeded, params, val_frames, seconds, stopped_at)
            runs.append(run)
            rel_mse, rel_mae = run["rel_mse"], run["rel_mae"]
            print(
                f"{name}, seed {seed}: validation rel. MSE {rel_mse:.3e}, rel. MAE {rel_mae:.3e}, "
                f"{seconds:.0f} s"
            )
            if i == 0:
                preds[name] = pred
                if name != "gru":
                    learned[name] = eigenvalues_of(params, seeded)
                if _SPEED.value:
                    speeds = speed(seeded, params, jnp.asarray(val_frames[0, 0]), fs, point, len(channels))
        result = aggregate(runs)
        result["train_seconds_seeds"] = [r["train_seconds"] for r in runs]
        result["stopped_at_seeds"] = [r["stopped_at"] for r in runs]
        if _SPEED.value:
            result.update(speeds)
        results.append(result)
        if not isinstance(seeded, GRUString):
            fields = ("d_hidden", "dynamics", "features", "encoder_hidden", "power_scale")
            specs[name] = {field: getattr(seeded, field) for field in fields}
        else:
            specs[name] = dict(d_hidden=0, dynamics="", features=features, encoder_hidden=0, power_scale=1.0)
        specs[name]["seeds"] = list(model_seeds)

    paper = PAPER[_STRING.value] if _PLUCKS.value == "paper" and not _DATA.value else {}
    print(
        f"\n{'model':<12} {'params':>8} {'train s':>8} {'seeds':>5} {'rel MSE (std)':>21} {'worst':>10} "
        f"{'by 50':>10} {'rel MAE':>10} {'× RT':>8} {'× RT 48k':>9} {'paper MSE':>10}"
    )
    for r in results:
        ref = f"{paper[r['model']]:.4g}" if r["model"] in paper else "–"
        mse = f"{r['rel_mse']:.3e} ({r['rel_mse_std']:.1e})"
        rtf = f"{r['rtf']:>8.0f} {r['rtf_48k']:>9.1f}" if "rtf" in r else f"{'–':>8} {'–':>9}"
        cells = (
            f"{r['params']:>8} {r['train_seconds']:>8.0f} {len(r['rel_mse_seeds']):>5} {mse:>21} "
            f"{r['rel_mse_worst']:>10.3e} {r['rel_mse_batches']:>10.3e} {r['rel_mae']:>10.3e} {rtf}"
        )
        stopped = f"  stopped by --budget at step {r['stopped_at']}" if r["stopped_at"] else ""
        print(f"{r['model']:<12} {cells} {ref:>10}{stopped}")
    print("rel MSE: over the whole validation set; by 50: the paper's, per batch of 50, averaged")
    for r in results:
        if "block_64_48k" in r:
            print(f"{r['model']}: a 64-sample block at 48 kHz costs {r['block_64_48k']:.3f} of its duration")
    if true_lam is not None:
        for name, lam in learned.items():
            worst = frequency_errors(lam, true_lam, train_frames)
            print(f"{name}: largest frequency error over the modes with ≥ 1 % of the energy: {worst:.2%}")
    if _SAVE.value:
        flag_values = {name: flags.FLAGS[name].value for name in flags.FLAGS if name in MAIN_FLAGS}
        save(
            _SAVE.value,
            dict(data=described, scale=scale.tolist(), models=specs, flags=flag_values, results=results),
            kept,
        )
        print(f"checkpoint: {_SAVE.value}")
    if _JSON.value:
        record = {"string": data_name, "fs": fs, "n_steps": n_steps, "results": results}
        Path(_JSON.value).write_text(json.dumps(record, indent=1))
    if _CURVES.value:
        Path(_CURVES.value).write_text(json.dumps(curves))
    figure = {k: v[0] for k, v in preds.items()}, val_frames[0], fs, true_lam, learned
    if _FIGURE.value:
        save_figure(_FIGURE.value, *figure)
        print(f"figure: {_FIGURE.value}")
    if _AUDIO.value:
        Path(_AUDIO.value).mkdir(parents=True, exist_ok=True)
        save_figure(Path(_AUDIO.value) / "figure.png", *figure)
        k = _AUDIO_PLUCKS.value
        write_audio(
            _AUDIO.value, val_frames[:k], {n: p[:k] for n, p in preds.items()}, fs, point, "figure.png"
        )
        print(f"audio: {_AUDIO.value}/index.html")
    print(f"total {time.perf_counter() - start:.0f} s")


MAIN_FLAGS = {  # the flags a checkpoint records, as made it
    "string",
    "plucks",
    "channels",
    "simulator",
    "data",
    "model",
    "dynamics",
    "init",
    "modes",
    "model_size",
    "seconds",
    "points",
    "train",
    "val",
    "test",
    "batch",
    "encoder_hidden",
    "bank",
    "bank_step",
    "steps",
    "lr",
    "lr_dynamics",
    "window",
    "latent",
    "loss_frames",
    "budget",
    "clip",
    "seed",
    "seeds",
    "gru_seeds",
    "data_seed",
}


if __name__ == "__main__":
    app.run(main)
