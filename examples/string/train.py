"""One training loop for every model of the examples: `train`, configured by a `Recipe`.

Adam with cosine-decayed rates and gradient clipping, a separate rate for the eigenvalue
parameters, a horizon curriculum (windows doubled in stages up to the whole trajectory), long
windows scored on a random subset of their frames, and the paper's per-step latent loss. A recipe
is a number of steps: the same recipe gives the same numbers on any machine. Also the evaluation
shared by the examples: rollouts (`predict`) and their errors.
"""

import dataclasses
import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from examples.string.models import init_params, with_power_scale

LOG = partial(print, flush=True)  # progress lines appear as they happen, also in a log file


def full_precision():
    """Full float32 matrix products for every model of the examples, on every backend: the DMD start
    cancels large encoder entries, which the TF32 products of NVIDIA GPUs (the backend's default,
    about 10 bits) turn into a start loss of 5.7e3 (1.4 on a CPU). A CPU's products already are."""
    jax.config.update("jax_default_matmul_precision", "highest")


EIGENVALUE_PARAMS = {"nu_log", "theta_log", "real_imag", "angles", "magnitudes"}


def make_optimizer(params, n_steps, lr, lr_dynamics, clip):
    """Gradient clipping, then Adam with cosine-decayed rates: lr_dynamics for the eigenvalue
    parameters (a phase error δθ grows to T·δθ over a T-step rollout), lr for everything else."""

    def label(path, _):
        return "eigenvalues" if path[-1].key in EIGENVALUE_PARAMS else "rest"

    rates = {"eigenvalues": lr_dynamics, "rest": lr}
    return optax.chain(
        optax.clip_by_global_norm(clip),
        optax.multi_transform(
            {
                group: optax.adam(optax.cosine_decay_schedule(rate, max(n_steps, 1)))
                for group, rate in rates.items()
            },
            jax.tree_util.tree_map_with_path(label, params),
        ),
    )


def curriculum(n_steps_train, n_steps, window):
    """Window length of each training step: T/2^j, ..., T/2, T in equal stages, from the shortest
    that is at least `window` (0: T throughout)."""
    lengths = [n_steps]
    while window and lengths[0] // 2 >= window:
        lengths.insert(0, lengths[0] // 2)
    return [lengths[i * len(lengths) // max(n_steps_train, 1)] for i in range(n_steps_train)]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a model is trained: the flags of the same names."""

    steps: int = 600  # Adam steps
    batch: int = 16  # trajectories per step
    lr: float = 1e-2  # all parameters but the eigenvalues (cosine-decayed)
    lr_dynamics: float = 1e-6  # eigenvalue parameters
    window: int = 0  # first curriculum window; 0: whole trajectories throughout
    latent: float = 0.0  # weight of the model's latent_loss
    clip: float = 1.0  # global gradient-norm clip
    budget: float = 0.0  # opt-in guard: stop after this many seconds (the result says so); 0: never
    loss_frames: int = 0  # frames of a window scored (a random subset); 0: all
    seed: int = 0  # batches and windows


# Defaults of the recipe flags. From DMD eigenvalues, whole rollouts from the start; the eigenvalues
# barely move (a phase error δθ grows to T·δθ over T steps). From a random start, the eigenvalues
# are found on short windows, where a phase error costs little, helped by the latent loss, which asks
# each step of the encodings to be a multiplication by λ: least squares in λ, as in DMD; then made
# precise on long windows, which scoring 250 of their frames makes cheap. A random start also gets
# twice as many states as the string has modes (MODEL_SIZES): with exactly one per mode, eigenvalues
# that settle on the same mode leave another unfound.
# The nonlinear string from DMD: 500 scored frames, and a low rate for long: at 3e-3 and 3600
# steps, Koopman_var's loss spiked, and one seed in five never recovered (rel. MSE 1.0). The GRU:
# 1-2 s a step on 4000-step rollouts, so 140 steps, about what the former 330 s budget gave it.
RECIPES = {
    ("linear", "dmd"): Recipe(steps=600, lr=1e-2, lr_dynamics=1e-6),
    ("nonlinear", "dmd"): Recipe(steps=7200, lr=1e-3, lr_dynamics=1e-6, loss_frames=500),
    ("linear", "random"): Recipe(
        steps=40000, lr=1e-2, lr_dynamics=0.03, window=32, latent=1.0, loss_frames=250
    ),
    ("nonlinear", "random"): Recipe(
        steps=40000, lr=1e-2, lr_dynamics=0.03, window=32, latent=1.0, loss_frames=250
    ),
    "gru": Recipe(steps=140, lr=1e-2),
}
MODEL_SIZES = {"dmd": 25, "random": 50}


class Trained(NamedTuple):
    """What `train` returns."""

    params: dict  # the trained parameters
    losses: list  # training loss of each step
    curve: list  # [(seconds, step, validation relative MSE)] at each log line, if validated
    seconds: float  # training time, validation excluded
    stopped_at: int | None  # the step at which recipe.budget stopped it; None: it ran every step


def data_parallel():
    """Shardings over every device JAX sees (all hosts' after jax.distributed.initialize()): the
    batch axis split over the devices, and replicated (parameters, optimiser state)."""
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch")), NamedSharding(mesh, PartitionSpec())


def to_devices(array, sharding):
    """A global array from a host array that every process holds alike: each device takes its part."""
    array = np.asarray(array)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def train(model, params, frames, recipe, validate=None, log=LOG):
    """Adam on the mean squared error of rollouts from each window's first frame, windows growing by
    `curriculum`, plus recipe.latent times the model's latent_loss. One loop for every model.

    With recipe.loss_frames = M, a window longer than M is scored on M of its frames, a random
    subset (the same expected loss), and the latent loss on its first M frames: the rollout is
    cheap, decoding every frame of a long window is not. `validate(params)`, if given, returns the
    validation relative MSE; it is called at each log line (twenty per run), and its time is not
    counted in the elapsed time or the budget.

    Data-parallel over every device JAX sees: each batch is split over them, the parameters are
    replicated, and the gradient's mean over the batch is the same on any number of devices.
    """
    n_steps_train, latent, budget = recipe.steps, recipe.latent, recipe.budget
    batch_size, n_devices = min(recipe.batch, len(frames)), jax.device_count()
    if batch_size % n_devices:
        raise ValueError(
            f"batch={recipe.batch} (of {len(frames)} trajectories): expected a multiple of the "
            f"{n_devices} devices the batch is split over"
        )
    split, replicated = data_parallel()
    params = jax.device_put(params, replicated)
    optimizer = make_optimizer(params, n_steps_train, recipe.lr, recipe.lr_dynamics, recipe.clip)
    opt_state = jax.device_put(optimizer.init(params), replicated)

    @partial(jax.jit, static_argnums=3)
    def train_step(params, opt_state, batch, length):
        first, times, scored, consecutive = batch  # (B, W, C), (B, M) or None, (B, M, W, C), (B, M', W, C)

        def loss_fn(p):
            loss = jnp.mean((model.apply({"params": p}, first, length, times) - scored) ** 2)
            if latent:
                loss += latent * model.apply({"params": p}, consecutive, method="latent_loss")
            return loss

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng, losses, curve = np.random.default_rng(recipe.seed), [], []
    start, paused = time.perf_counter(), 0.0
    for i, length in enumerate(curriculum(n_steps_train, frames.shape[1], recipe.window)):
        rows = rng.choice(len(frames), size=batch_size, replace=False)
        offsets = rng.integers(0, frames.shape[1] - length + 1, size=rows.size)
        n_scored = min(length, recipe.loss_frames or length)
        times = None  # every frame scored: the models' whole output, no gather
        if n_scored < length:
            times = np.stack([np.sort(rng.choice(length, n_scored, replace=False)) for _ in rows])
        first = frames[rows, offsets]
        scored = frames[rows[:, None], offsets[:, None] + (np.arange(length) if times is None else times)]
        consecutive = frames[rows[:, None], offsets[:, None] + np.arange(n_scored if latent else 1)]
        batch = jax.tree.map(partial(to_devices, sharding=split), (first, times, scored, consecutive))
        params, opt_state, loss = train_step(params, opt_state, batch, length)
        losses.append(float(loss))
        elapsed = time.perf_counter() - start - paused
        out_of_time = budget and elapsed > budget
        if i % max(n_steps_train // 20, 1) == 0 or i == n_steps_train - 1 or out_of_time:
            line = f"step {i + 1:5d}/{n_steps_train}  window {length:5d}  loss {loss:.3e}  {elapsed:.0f} s"
            if validate:
                tic = time.perf_counter()
                curve.append((elapsed, i + 1, validate(params)))
                paused += time.perf_counter() - tic
                line += f"  validation {curve[-1][2]:.3e}"
            log(line)
        if out_of_time:
            log(f"stopped at step {i + 1}: --budget={budget:g} s reached")
            return Trained(params, losses, curve, time.perf_counter() - start - paused, i + 1)
    return Trained(params, losses, curve, time.perf_counter() - start - paused, None)


def predict(model, params, first_frames, n_steps, chunk=16):
    """(B, T, W, C) rollouts from first frames (B, W, C), `chunk` at a time."""
    apply = jax.jit(lambda p, first: model.apply({"params": p}, first, n_steps, None))
    return np.concatenate(
        [np.asarray(apply(params, first_frames[i : i + chunk])) for i in range(0, len(first_frames), chunk)]
    )


def validation_mse(model, params, val_frames):
    """Relative MSE of the model's rollouts from the first frames of val_frames (B, T, W, C)."""
    return errors(predict(model, params, val_frames[:, 0], val_frames.shape[1]), val_frames)[0]


def errors(pred, true):
    """Relative MSE Σ(pred − true)² / Σ true² and relative MAE Σ|pred − true| / Σ|true|."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    return float(np.sum((pred - true) ** 2) / np.sum(true**2)), float(
        np.sum(np.abs(pred - true)) / np.sum(np.abs(true))
    )


def fit(name, model, train_frames, val_frames, init, seed, recipe, dmd=None, log=LOG):
    """One model and seed, as every example runs it: initialise (models.init_params; Koopman_var's
    gain input scale from the data), then train with `recipe` unless it is DMD, validating at each
    log line. Returns (model, params, seconds, Trained or None); the validation's time is not in
    the seconds."""
    tic = time.perf_counter()
    params = init_params(name, model, train_frames, init, seed, dmd)
    model = with_power_scale(model, params, train_frames) if name == "koopman_var" else model
    seconds = time.perf_counter() - tic
    if name == "dmd":
        return model, params, seconds, None
    trained = train(
        model, params, train_frames, recipe, partial(validation_mse, model, val_frames=val_frames), log
    )
    return model, trained.params, seconds + trained.seconds, trained


def evaluate(name, model, params, val_frames, seconds, stopped_at=None):
    """(rollouts from the validation first frames, the run's result: errors, size, time)."""
    pred = predict(model, params, val_frames[:, 0], val_frames.shape[1])
    rel_mse, rel_mae = errors(pred, val_frames)
    result = dict(
        model=name,
        rel_mse=rel_mse,
        rel_mae=rel_mae,
        rel_mse_batches=batch_errors(pred, val_frames),
        params=sum(p.size for p in jax.tree.leaves(params)),
        train_seconds=seconds,
        stopped_at=stopped_at,
    )
    return pred, result


def batch_errors(pred, true, batch=50):
    """The paper's metric: mean((y − ŷ)²) / mean(y²) per batch of `batch` trajectories (in order),
    averaged over the batches; errors() is over the whole set at once."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    starts = range(0, len(true), batch)
    return float(np.mean([errors(pred[i : i + batch], true[i : i + batch])[0] for i in starts]))


def frequency_errors(lam, true_lam, frames):
    """Largest relative error of the learned frequencies arg λ (nearest learned to each true one) over
    the string's modes with ≥ 1 % of the energy ω_n² q_n² of the first frames (B, T, W, C)."""
    n = np.arange(1, true_lam.size + 1)
    shapes = np.sin(np.outer(np.linspace(0, np.pi, frames.shape[2]), n))  # (W, N)
    q = frames[:, 0, :, 0] @ shapes  # (B, N), up to a common factor
    true_angle = np.abs(np.angle(true_lam))
    energy = np.sum(q**2, axis=0) * true_angle**2
    angles = np.abs(np.angle(lam))
    err = [
        np.min(np.abs(angles - a)) / a
        for a, e in zip(true_angle, energy, strict=True)
        if e >= 0.01 * energy.sum()
    ]
    return max(err)


def aggregate(runs):
    """One result from the runs of a model over seeds: the means (relative MSE over the whole set and
    by batches), the sample std and worst of the relative MSE, and every seed's relative MSE."""
    mse = np.array([r["rel_mse"] for r in runs])
    return dict(
        model=runs[0]["model"],
        rel_mse=float(mse.mean()),
        rel_mae=float(np.mean([r["rel_mae"] for r in runs])),
        rel_mse_batches=float(np.mean([r["rel_mse_batches"] for r in runs])),
        rel_mse_std=float(mse.std(ddof=1)) if mse.size > 1 else 0.0,
        rel_mse_worst=float(mse.max()),
        rel_mse_seeds=mse.tolist(),
        params=runs[0]["params"],
        train_seconds=float(np.mean([r["train_seconds"] for r in runs])),
        stopped_at=[r["stopped_at"] for r in runs if r["stopped_at"] is not None],
    )
