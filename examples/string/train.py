"""One training loop for every model of the examples: `train`, configured by a `Recipe`.

Adam with cosine-decayed rates and gradient clipping, a separate rate for the eigenvalue
parameters, a horizon curriculum (windows doubled in stages up to the whole trajectory), long
windows scored on a random subset of their frames, the paper's per-step latent loss and a loss on
the error's slope along the string. A recipe is a number of steps: the same recipe gives the same
numbers on any machine. Also the evaluation shared by the examples: rollouts (`predict`) and their
errors.
"""

import dataclasses
import time
from functools import cache, partial
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from examples.string import input_pipeline, metrics, results, ssm
from examples.string.configs.base import ConfigError
from examples.string.models import MODELS, ModelKind

LOG = partial(print, flush=True)  # progress lines appear as they happen, also in a log file


# The parameters trained at lr_dynamics, without weight decay: the modal models' eigenvalues, and
# the state-space models' (with the LRU's γ); their B and C (ssm.IO_PARAMS) at lr_io, also without.
EIGENVALUE_PARAMS = {"nu_log", "theta_log", "real_imag", "angles", "magnitudes"} | ssm.EIGENVALUE_PARAMS


def make_optimizer(
    n_steps, lr, lr_dynamics, clip, weight_decay=0.0, lr_io=0.0, eigen_scale=None, recurrent_modules=()
):
    """Gradient clipping, then Adam with cosine-decayed rates: lr_dynamics for the eigenvalue
    parameters (a phase error δθ grows to T·δθ over a T-step rollout) and every parameter of the
    modules named in recurrent_modules, times eigen_scale[step] if given (one factor a step), lr_io
    for the state-space models' B and C (0: lr_dynamics), lr for everything else, with decoupled
    weight decay (AdamW; not of the eigenvalues, whose decay would damp them, nor of B and C, as the
    paper's)."""

    def label(path, _):
        name = path[-1].key
        if name in EIGENVALUE_PARAMS or any(getattr(k, "key", None) in recurrent_modules for k in path):
            return "eigenvalues"
        return "io" if name in ssm.IO_PARAMS else "rest"

    def labels(params):
        return jax.tree_util.tree_map_with_path(label, params)

    def schedule(rate):
        return optax.cosine_decay_schedule(rate, max(n_steps, 1))

    cosine = schedule(lr_dynamics)
    factors = None if eigen_scale is None else jnp.asarray(eigen_scale)

    def eigen_rate(step):
        rate = cosine(step)
        return rate if factors is None else rate * factors[jnp.minimum(step, len(factors) - 1)]

    return optax.chain(
        optax.clip_by_global_norm(clip),
        optax.multi_transform(
            {
                "eigenvalues": optax.adam(eigen_rate),
                "io": optax.adam(schedule(lr_io or lr_dynamics)),
                "rest": optax.adamw(schedule(lr), weight_decay=weight_decay),
            },
            labels,
        ),
    )


@cache
def training_step(
    model,
    n_steps,
    lr,
    lr_dynamics,
    clip,
    weight_decay,
    latent,
    slope,
    lr_io=0.0,
    eigen_scale=None,
    recurrent_modules=(),
):
    """(optimizer, step) of a model and recipe, made once: the seeds of a model share one compiled
    step (a step defined inside `train` was compiled again for every seed, 2–3 s each).

    step(params, opt_state, batch, length) -> (params, opt_state, loss): one Adam step on the mean
    squared error of the rollouts at the scored steps, plus slope times that of the error's slope
    along the grid (differences times W − 1, a derivative on a unit length: on a string, mode n's
    error weighted 1 + slope·(nπ)², as its potential energy weighs it), plus latent times the
    model's latent_loss."""
    optimizer = make_optimizer(
        n_steps, lr, lr_dynamics, clip, weight_decay, lr_io, eigen_scale, recurrent_modules
    )

    @partial(jax.jit, static_argnums=3)
    def step(params, opt_state, batch, length):
        first, times, scored, consecutive = batch  # (B, W, C), (M,) or None, (B, M, W, C), (B, M', W, C)

        def loss_fn(p):
            error = model.apply({"params": p}, first, length, times) - scored  # (B, M, W, C)
            loss = jnp.mean(error**2)
            if slope:
                loss += slope * jnp.mean((jnp.diff(error, axis=-2) * (error.shape[-2] - 1)) ** 2)
            if latent:
                loss += latent * model.apply({"params": p}, consecutive, method="latent_loss")
            return loss

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return optimizer, step


def curriculum(n_steps_train, n_steps, window):
    """Window length of each training step: T/2^j, ..., T/2, T in equal stages, from the shortest
    that is at least `window` (0: T throughout)."""
    lengths = [n_steps]
    while window and lengths[0] // 2 >= window:
        lengths.insert(0, lengths[0] // 2)
    return [lengths[i * len(lengths) // max(n_steps_train, 1)] for i in range(n_steps_train)]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one model is trained (the configuration's fields of the same names; `recipe`)."""

    steps: int  # Adam steps
    batch: int  # trajectories per step
    lr: float  # all parameters but the eigenvalues (cosine-decayed)
    lr_dynamics: float  # eigenvalue parameters
    lr_io: float  # the state-space models' B and C (ssm.IO_PARAMS); 0: lr_dynamics
    recurrent_modules: tuple  # modules whose every parameter trains at lr_dynamics (names in the tree)
    window: int  # first curriculum window; 0: whole trajectories throughout
    eigen_rate_by_window: float  # p: the eigenvalues' rate times (first window / window)^p
    anchor: bool  # windows start at the first frame, not at random offsets
    latent: float  # weight of the model's latent_loss
    slope: float  # weight of the loss on the error's slope along the grid
    clip: float  # global gradient-norm clip
    weight_decay: float  # decoupled (AdamW), of every parameter but the eigenvalues
    budget: float  # opt-in guard: stop after this many seconds (the result says so); 0: never
    loss_frames: int  # frames of a window scored (a random subset); 0: all
    restarts: int  # starts of each seed, the one of lowest training error kept (`fit`)
    seed: int  # batches and windows


def recipe(kind, config, seed):
    """The recipe of a model (a models.ModelKind) and seed: the configuration's fields, and the kind's
    own where it has them (Koopman_var's rates, the GRU's steps, the state-space models' lr_io)."""
    own = {"seed": seed, "lr_io": 0.0, "recurrent_modules": ()}  # not configuration fields
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(Recipe) if f.name not in own}
    return Recipe(**{**own, **fields, **kind.recipe(config)})


class Trained(NamedTuple):
    """What `train` returns."""

    params: dict  # the trained parameters
    losses: list  # training loss of each step
    curve: list  # [(seconds, step, validation relative MSE)] at each log line, if validated
    seconds: float  # training time, validation excluded
    stopped_at: int | None  # the step at which recipe.budget stopped it; None: it ran every step


def train(model, params, frames, recipe, validate=None, log=LOG):
    """Adam on the mean squared error of rollouts from each window's first frame, windows growing by
    `curriculum`, plus recipe.latent times the model's latent_loss. One loop for every model.

    With recipe.loss_frames = M, a window longer than M is scored on M of its frames, a random
    subset shared by the batch (the same expected loss), and the latent loss on its first M frames:
    the rollout is cheap, decoding every frame of a long window is not. `validate(params)`, if
    given, returns the validation relative MSE; it is called at each log line (twenty per run), and
    its time is not counted in the elapsed time or the budget.

    Data-parallel over every device JAX sees: each batch is split over them, the parameters are
    replicated, and the gradient's mean over the batch is the same on any number of devices.
    """
    n_steps_train, latent, budget = recipe.steps, recipe.latent, recipe.budget
    batch_size, n_devices = min(recipe.batch, len(frames)), jax.device_count()
    if batch_size % n_devices:
        raise ConfigError(
            f"--batch={recipe.batch} (of {len(frames)} trajectories): expected a multiple of the "
            f"{n_devices} devices the batch is split over"
        )
    split, replicated = input_pipeline.data_parallel()
    params = jax.device_put(params, replicated)
    lengths = curriculum(n_steps_train, frames.shape[1], recipe.window)
    eigen_scale = None
    if recipe.eigen_rate_by_window:  # the rate (first window / window)^p
        eigen_scale = tuple((lengths[0] / n) ** recipe.eigen_rate_by_window for n in lengths)
    optimizer, train_step = training_step(
        model,
        n_steps_train,
        recipe.lr,
        recipe.lr_dynamics,
        recipe.clip,
        recipe.weight_decay,
        latent,
        recipe.slope,
        recipe.lr_io,
        eigen_scale,
        recipe.recurrent_modules,
    )
    opt_state = jax.device_put(optimizer.init(params), replicated)
    split_up = partial(input_pipeline.to_devices, sharding=split)
    rng, losses, curve = np.random.default_rng(recipe.seed), [], []
    start, paused = time.perf_counter(), 0.0
    for i, length in enumerate(lengths):
        first, times, scored, consecutive = input_pipeline.draw_batch(
            rng, frames, batch_size, length, recipe.loss_frames, latent, recipe.anchor
        )
        times = None if times is None else input_pipeline.to_devices(times, replicated)  # shared by the batch
        batch = split_up(first), times, split_up(scored), split_up(consecutive)
        params, opt_state, loss = train_step(params, opt_state, batch, length)
        losses.append(loss)
        # Waiting for the previous step's loss, not this one's, lets the next batch be drawn while this
        # step runs; a log line and the budget wait for this one, so the time counted is the steps'.
        log_line = i % max(n_steps_train // 20, 1) == 0 or i == n_steps_train - 1
        if i:
            losses[i - 1] = float(losses[i - 1])
        if log_line or budget:
            losses[i] = float(loss)
        elapsed = time.perf_counter() - start - paused
        out_of_time = budget and elapsed > budget
        if log_line or out_of_time:
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


@partial(jax.jit, static_argnums=(0, 3))
def rollout(model, params, first, n_steps):
    """(B, T, W, C) rollouts from first frames (B, W, C), compiled once per model (modules compare by
    their fields), number of steps and batch shape: a jit made afresh in each call of `predict`
    compiled again at each validation, about 3 s of a 4000-step rollout here."""
    return model.apply({"params": params}, first, n_steps, None)


def predict(model, params, first_frames, n_steps, chunk=16):
    """(B, T, W, C) rollouts from first frames (B, W, C), `chunk` at a time."""
    return np.concatenate(
        [
            np.asarray(rollout(model, params, first_frames[i : i + chunk], n_steps))
            for i in range(0, len(first_frames), chunk)
        ]
    )


def validation_mse(model, params, val_frames):
    """Relative MSE of the model's rollouts from the first frames of val_frames (B, T, W, C)."""
    return metrics.errors(predict(model, params, val_frames[:, 0], val_frames.shape[1]), val_frames)[0]


@dataclasses.dataclass(frozen=True)
class Run:
    """One trained (or fitted, or restored) model and seed: what checkpoints, shifts, audio, the
    results files and the tables read."""

    name: str  # its key in MODELS
    kind: ModelKind
    seed: int
    model: object  # its module, with the fields its start set (kind.saved)
    params: dict
    scores: dict  # metrics.scores on the validation set, and the run's record (train_seconds, ...)
    curve: list | None  # [(seconds, step, validation relative MSE)] at each log line, if trained
    pred: np.ndarray | None  # validation rollouts (V, T, W, C); the first seed's only (~160 MB each)

    @property
    def eigenvalues(self):
        """λ (D,) of a modal model; None for the others."""
        return self.kind.eigenvalues(self.params, self.model) if self.kind.eigenvalues else None


class Report(NamedTuple):
    """What train_and_evaluate returns."""

    dataset: object  # the input pipeline's Dataset
    runs: list  # every Run, by model in config.models' order, then by seed
    results: list  # one dict per model: metrics.aggregate() of its seeds
    commit: str | None  # the code's commit when the run started (results.commit)

    def first(self):
        """The first seed's Run of each model, in the table's order."""
        return [run for run in self.runs if run.pred is not None]


def train_and_evaluate(config, dataset, workdir=None, restored=None, log=LOG):
    """Every model of config.models, each seed: start it (kind.start), train it with its `recipe`
    unless it is fitted (DMD), and score its rollouts of the whole validation set from their first
    frames. One loop for every model and every example.

    `dataset`: the caller's input pipeline's Dataset (with a checkpoint's scale, if restored).
    `restored`: a checkpoints.Checkpoint whose models are evaluated instead of trained. `workdir`:
    write one results file per model there (`results.write`), after every seed. The seconds counted
    are the model's start (a DMD fit included) and training, not validation.
    """
    made_with = results.commit()  # the code as it is now, not when a results file is written
    if restored:
        restored.check_data(dataset.description)
    report, fits = Report(dataset, [], [], made_with), {}  # fits: DMD fits shared by the models
    for name in config.models:
        kind, runs = MODELS[name], []
        for seed in range(config.seed, config.seed + kind.seeds(config)):
            log(f"--- {name}, seed {seed}")
            run = fit(name, config, dataset, seed, fits, restored, log)
            runs.append(run if not runs else dataclasses.replace(run, pred=None))
            score = f"validation rel. MSE {run.scores['rel_mse']:.3e}, {run.scores['train_seconds']:.0f} s"
            log(f"{name}, seed {seed}: {score}")
            seeds = range(config.seed, config.seed + len(runs))
            if workdir:  # after every seed: a run stopped early leaves the seeds it finished
                results.write(
                    workdir, config, dataset, metrics.aggregate([r.scores for r in runs], seeds), made_with
                )
        report.runs.extend(runs)
        report.results.append(metrics.aggregate([r.scores for r in runs], seeds))
    return report


class Start(NamedTuple):
    """One start of a model trained (`start_and_train`)."""

    model: object  # the module, as its kind's start made it
    params: dict
    train_error: float | None  # relative MSE on as many training plucks as validation ones, if scored
    seconds: float  # the start (a DMD fit included) and training
    stopped_at: int | None
    curve: list | None


def start_and_train(kind, model, config, dataset, seed, fits, log=LOG, scored=False):
    """A Start: the model started by its kind with `seed` and trained by its recipe of that seed
    unless it is fitted; scored on the training plucks if `scored`."""
    tic = time.perf_counter()
    model, params, fit_seconds = kind.start(model, dataset.train, config, seed, fits)
    seconds, stopped_at, curve = time.perf_counter() - tic + fit_seconds, None, None
    if not kind.fitted:
        validate = partial(validation_mse, model, val_frames=dataset.val[: config.curve_plucks or None])
        trained = train(model, params, dataset.train, recipe(kind, config, seed), validate, log)
        params, seconds = trained.params, seconds + trained.seconds
        stopped_at, curve = trained.stopped_at, trained.curve
    error = validation_mse(model, params, dataset.train[: len(dataset.val)]) if scored else None
    if scored:
        log(f"start {seed}: training rel. MSE {error:.3e}")
    return Start(model, params, error, seconds, stopped_at, curve)


def fit(name, config, dataset, seed, fits, restored=None, log=LOG):
    """One model and seed, a Run: started by its kind (`fits`: the DMD fits of the run so far) and
    trained with its `recipe` unless it is fitted, or restored from a checkpoint; scored on the
    validation set, by the relative MSE on as many training plucks, and for a modal model on a
    string of known modes by its largest frequency error. Its curve: validation on the first
    config.curve_plucks validation plucks at each log line."""
    kind, features = MODELS[name], dataset.train.shape[2] * dataset.train.shape[3]
    model, curve, restart_errors, train_error = kind.build(config, features), None, None, None
    if restored:
        i = seed - config.seed
        model = model.clone(**restored.fields[name][i])
        target = model.init(jax.random.key(0), jnp.asarray(dataset.val[:1, 0]), 2, None)["params"]
        params = restored.params(name, seed, target)
        seconds, stopped_at = restored.seconds[name][i], restored.stopped_at[name][i]
    else:
        # Restarts of seed s are the starts s·R, ..., s·R + R − 1: with R = 1, the seed itself.
        starts = 1 if kind.fitted else recipe(kind, config, seed).restarts
        tried = [
            start_and_train(kind, model, config, dataset, start, fits, log, scored=starts > 1)
            for start in range(seed * starts, (seed + 1) * starts)
        ]
        best = min(tried, key=lambda t: np.nan_to_num(t.train_error, nan=np.inf)) if starts > 1 else tried[0]
        model, params, stopped_at, curve = best.model, best.params, best.stopped_at, best.curve
        seconds = sum(t.seconds for t in tried)
        restart_errors = [t.train_error for t in tried] if starts > 1 else None
        train_error = best.train_error  # scored already when there were restarts
    if train_error is None:
        train_error = validation_mse(model, params, dataset.train[: len(dataset.val)])
    pred = predict(model, params, dataset.val[:, 0], dataset.val.shape[1])
    scores = metrics.scores(pred, dataset.val)
    scores.update(
        model=name,
        train_rel_mse=train_error,
        params=sum(p.size for p in jax.tree.leaves(params)),
        train_seconds=seconds,
        stopped_at=stopped_at,
    )
    if restart_errors:
        scores["restarts_train_rel_mse"] = restart_errors
    run = Run(name, kind, seed, model, params, scores, curve, pred)
    if dataset.true_eigenvalues is not None and kind.eigenvalues:
        scores["frequency_error"] = metrics.frequency_errors(
            run.eigenvalues, dataset.true_eigenvalues, dataset.train
        )
    return run


def learning_curve(config, get_dataset, sizes, workdir, log=LOG):
    """{model: [(size, validation rel. MSE, training rel. MSE)]}: train_and_evaluate at each size, on
    get_dataset(config) (the example's input pipeline) of the first that many training plucks."""
    curve = {name: [] for name in config.models}
    for size in sizes:
        log(f"=== {size} training plucks")
        sized = dataclasses.replace(config, train_plucks=size)
        report = train_and_evaluate(sized, get_dataset(sized), Path(workdir) / str(size), log=log)
        for result in report.results:
            curve[result["model"]].append((size, result["rel_mse"], result["train_rel_mse"]))
    return curve
