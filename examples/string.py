"""Learn a vibrating string: modal (Koopman) models, a Varying model and a GRU on the same plucks.

    python -m examples.string [--string=linear|nonlinear | --data=PATH.npz] [--model=koopman|all|...]

(Run it as a module from the repository root: as a script, this file would shadow Python's own
`string` module.) The physics is in `examples/string_physics.py`.

Data: Gaussian plucks (random centre, width and, for the nonlinear string, peak displacement in
mm), frames of displacement u and velocity v on W grid points, (T, W, C=2), each channel
normalised by its training standard deviation; or trajectories from a file (--data). Every model
predicts the whole trajectory from its first frame. Models (--model):
  dmd          dynamic mode decomposition: least squares, no gradient step.
  koopman      encoder -> x0 (D,) complex -> LRUDynamics -> decoder (Dense) per frame; the encoder
               is a Dense layer, plus an MLP with --encoder_hidden.
  koopman_var  the same with LRUDynamicsVarying: the rollout times a gain exp(MLP(|x|²)), a
               log-magnitude and a phase (PolarGain), divided by its value at the start.
  gru          BatchedDeepRNN with GRU cells, x0 = the first frame, zero inputs (the spec's baseline).
All gradient-trained models share one loop (`train`, configured by a `Recipe`): Adam with gradient
clipping, a separate rate for the eigenvalues, a horizon curriculum (windows of --window steps,
doubled in stages until they span the whole trajectory), long windows scored on a random subset of
their frames (--loss_frames), the paper's per-step latent loss (--latent) and a time budget.
Initialisation (--init) of the modal models: eigenvalues from DMD (dmd_eigs), eigenvalues, encoder
and decoder from DMD (dmd), or the modules' own initialisers (random); each has its default recipe
(RECIPES) and model size (MODEL_SIZES). --curves writes the validation error against time.
"""

import dataclasses
import json
import logging
import sys
import time
from functools import partial
from pathlib import Path
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from absl import app, flags
from einops import rearrange

import recurrent as rec
from examples import string_physics as physics
from mlp import MLP

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

LOG = partial(print, flush=True)  # progress lines appear as they happen, also in a log file
MODELS = ["dmd", "koopman", "koopman_var", "gru"]
PAPER = {  # validation relative MSE in the paper (Gaussian plucks, 4 kHz, 4000 steps)
    "nonlinear": {"dmd": 1.19, "koopman": 0.104, "koopman_var": 0.0113},
    "linear": {"dmd": 0.0, "koopman": 0.011, "koopman_var": 0.0020},
}

_STRING = flags.DEFINE_enum("string", "linear", ["linear", "nonlinear"], "Which simulated string.")
_SIMULATOR = flags.DEFINE_enum(
    "simulator", "lawson", ["lawson", "dop853"], "Nonlinear string: Lawson RK4 or scipy's adaptive DOP853."
)
_SAVE_DATA = flags.DEFINE_string(
    "save_data", None, "Write the simulated trajectories to this .npz (u, v, fs)."
)
_DATA = flags.DEFINE_string("data", None, "Train on trajectories from this .npz (u, optional v, fs).")
_MODEL = flags.DEFINE_enum("model", "koopman", [*MODELS, "all"], "Model to train; all: each, one table.")
_DYNAMICS = flags.DEFINE_enum("dynamics", "lru", ["lru", "discrete"], "Koopman's LRU or discrete dynamics.")
_INIT = flags.DEFINE_enum(
    "init",
    "dmd_eigs",
    ["dmd", "dmd_eigs", "random"],
    "Modal models: eigenvalues from DMD (dmd_eigs); eigenvalues, encoder and decoder from DMD (dmd); "
    "or everything from the modules' own initialisers (random).",
)
_MODES = flags.DEFINE_integer("modes", 25, "String modes N in the simulated data.", lower_bound=1)
_MODEL_SIZE = flags.DEFINE_integer(
    "model_size",
    None,
    "Complex state size D of the modal models (default: MODEL_SIZES of the --init).",
    lower_bound=1,
)
_FS = flags.DEFINE_float("fs", 4000.0, "Sample rate of the simulated data, Hz.")
_SECONDS = flags.DEFINE_float("seconds", 1.0, "Length of each simulated pluck, s.")
_POINTS = flags.DEFINE_integer("points", 101, "Grid points W of the simulated data.", lower_bound=3)
_TRAIN = flags.DEFINE_integer("train", 256, "Simulated training plucks.", lower_bound=1)
_VAL = flags.DEFINE_integer("val", 16, "Validation trajectories: the last ones of the data.", lower_bound=1)
_BATCH = flags.DEFINE_integer("batch", 16, "Trajectories per training step.", lower_bound=1)
_ENCODER_HIDDEN = flags.DEFINE_integer(
    "encoder_hidden",
    0,
    "Koopman models: add an MLP of this width to the linear encoder (0: none).",
    lower_bound=0,
)
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
_BUDGET = flags.DEFINE_float("budget", None, "Stop a model's training after this many seconds; 0: never.")
_CLIP = flags.DEFINE_float("clip", 1.0, "Global gradient-norm clip.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed for plucks, split and models.")
_FIGURE = flags.DEFINE_string("figure", "examples/string.png", "Where to save the figure (empty: none).")
# bench.py defines --json too; allow_override lets both be imported in one (test) process.
_JSON = flags.DEFINE_string("json", None, "Write the results to this JSON file.", allow_override=True)
_CURVES = flags.DEFINE_string(
    "curves", None, "Write each model's validation curve [[seconds, step, rel MSE], ...] to this JSON file."
)


# ----------------------------------------------------------------------------- data


def make_plucks(n_plucks, n_modes, n_steps, fs, n_points, rng, string="linear", simulator="lawson"):
    """Gaussian plucks at random centres (0.1 L to 0.9 L) and widths (0.02 L to 0.1 L): (B, T, W, 2).

    The linear string is scale-free (unit peak); the nonlinear one gets a peak displacement drawn
    from physics.NONLINEAR_AMPLITUDE, since its pitch depends on it, and is integrated by
    physics.simulate_modal ("lawson") or scipy's adaptive DOP853 ("dop853").
    """
    centres = rng.uniform(0.1, 0.9, n_plucks) * physics.LENGTH
    widths = rng.uniform(0.02, 0.1, n_plucks) * physics.LENGTH
    if string == "linear":
        return np.stack(
            [
                physics.simulate(physics.pluck(c, w, n_modes), n_steps, fs, n_points)
                for c, w in zip(centres, widths, strict=True)
            ]
        )
    peaks = rng.uniform(*physics.NONLINEAR_AMPLITUDE, n_plucks)
    q0 = np.stack([physics.pluck(c, w, n_modes, a) for c, w, a in zip(centres, widths, peaks, strict=True)])
    simulate = physics.simulate_modal if simulator == "lawson" else physics.simulate_adaptive
    return physics.to_frames(*simulate(q0, n_steps, fs), n_points)


def load_trajectories(path):
    """(frames (N, T, W, C), fs) from an .npz with u (N, T, W), optional v (N, T, W) and fs (Hz).

    Raises ValueError with one line naming the array and what was expected.
    """
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"--data={path}: cannot read it as .npz ({error})") from None
    if "u" not in archive:
        raise ValueError(f"--data={path}: no array 'u': expected u (N, T, W) displacement")
    u = archive["u"]
    if u.ndim != 3:
        raise ValueError(f"--data={path}: u has shape {u.shape}: expected (N, T, W)")
    channels = [u]
    if "v" in archive:
        if archive["v"].shape != u.shape:
            raise ValueError(f"--data={path}: v has shape {archive['v'].shape}: expected u's {u.shape}")
        channels.append(archive["v"])
    for name, array in zip("uv", channels, strict=False):
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
            raise ValueError(f"--data={path}: {name} has non-finite or non-numeric entries: expected finite")
    if u.shape[0] < 2 or u.shape[1] < 2:
        raise ValueError(f"--data={path}: u has shape {u.shape}: expected N ≥ 2 trajectories of T ≥ 2 steps")
    fs = archive["fs"] if "fs" in archive else np.array(np.nan)
    if fs.size != 1 or not np.issubdtype(fs.dtype, np.number) or not float(fs) > 0:
        raise ValueError(f"--data={path}: fs missing or not a positive number: expected the sample rate, Hz")
    return np.stack(channels, axis=-1).astype(np.float64), float(fs)


# ----------------------------------------------------------------------------- models


def make_dynamics(kind, d_hidden, gain=None, **kwargs):
    """LRUDynamics ("lru"; LRUDynamicsVarying with a `gain` model) or DiscreteModalDynamics ("discrete")."""
    if kind == "lru":
        fields = dict(r_min=0.99, r_max=0.9999, max_phase=np.pi, clip_eigs=True, prepend_ones=True)
        if gain is not None:
            return rec.LRUDynamicsVarying(d_hidden=d_hidden, model=gain, **fields, **kwargs)
        return rec.LRUDynamics(d_hidden=d_hidden, **fields, **kwargs)
    return rec.DiscreteModalDynamics(
        d_hidden=d_hidden,
        prepend_ones=True,
        clip=True,
        r_min=0.99,
        r_max=0.9999,
        min_phase=0.0,
        max_phase=np.pi,
        **kwargs,
    )


class PolarGain(nn.Module):
    """Koopman_var's gain: |x|² (..., D) -> exp(log_gain(|x|²)), as the (..., 2D) real and imaginary parts
    `recurrent.modulate` expects. log_gain = MLP(|x|² / scale) is a log-magnitude and a phase, the
    polar form LRU gives its eigenvalues: the pitch glide turns a mode by many radians, a phase
    about linear in |x|², which real and imaginary parts would have to follow through cos and sin.
    The log-magnitude is bounded to (−1, 1) by tanh: the decay is the eigenvalues', and a few
    full-rate Adam steps on the last layer, which starts at zero (a gain of exactly 1), would
    otherwise overflow exp."""

    d_hidden: int  # D
    hidden: tuple = (64, 64)  # widths of the MLP's hidden layers
    scale: float = 1.0  # typical |x|²

    def setup(self):
        self.mlp = MLP(list(self.hidden))
        self.out = nn.Dense(2 * self.d_hidden, kernel_init=nn.initializers.zeros)

    def log_gain(self, power):
        """(..., D) |x|² -> (..., D) complex: log-magnitude in (−1, 1) + i phase."""
        z = self.out(nn.selu(self.mlp(power / self.scale)))
        return jax.lax.complex(jnp.tanh(z[..., : self.d_hidden]), z[..., self.d_hidden :])

    def __call__(self, power):
        gain = jnp.exp(self.log_gain(power))
        return jnp.concatenate([gain.real, gain.imag], axis=-1)


class KoopmanString(nn.Module):
    """First frame (W, C) -> encoder -> x0 (D,) complex -> modal rollout -> decoder -> (T, W, C)."""

    d_hidden: int  # D, complex modal state size
    dynamics: str  # "lru" or "discrete"
    features: int  # W·C, values per frame
    varying: bool = False  # Koopman_var: LRUDynamicsVarying with a PolarGain, relative to the start
    power_scale: float = 1.0  # Koopman_var: the typical |x|², by which the PolarGain divides its input
    encoder_hidden: int = 0  # > 0: encoder = Dense + an MLP of this width, its output zero at init

    def setup(self):
        self.encoder = nn.Dense(2 * self.d_hidden)
        if self.encoder_hidden:
            self.correction = nn.Sequential(
                [
                    MLP([self.encoder_hidden] * 2),
                    nn.selu,
                    nn.Dense(2 * self.d_hidden, kernel_init=nn.initializers.zeros),
                ]
            )
        self.gain = PolarGain(self.d_hidden, scale=self.power_scale) if self.varying else None
        self.modal = make_dynamics(self.dynamics, self.d_hidden, self.gain, name="dynamics")
        self.decoder = nn.Dense(self.features)

    def encode(self, frames):
        """(..., W, C) -> (..., D) complex."""
        flat = rearrange(frames, "... w c -> ... (w c)")
        z = self.encoder(flat) + (self.correction(flat) if self.encoder_hidden else 0)
        return jax.lax.complex(z[..., : self.d_hidden], z[..., self.d_hidden :])

    def decode(self, x, width):
        """(..., D) complex -> (..., W, C)."""
        y = self.decoder(jnp.concatenate([x.real, x.imag], axis=-1))
        return rearrange(y, "... (w c) -> ... w c", w=width)

    def __call__(self, first_frame, n_steps, times=None):
        """First frame (W, C) -> frames (T, W, C), or (M, W, C) at steps `times` (M,) only.

        Koopman_var divides its rollout by the gain at the start, x_k = λ^k x0 g(|x_k|²) / g(|x0|²),
        so the phase the gain adds is what a mode has gained since the pluck, as the string's glide
        is, and x_0 = x0, the encoding.
        """
        x0 = self.encode(first_frame)
        x = self.modal(x0, n_steps)
        if self.varying:
            x = x * jnp.exp(-self.gain.log_gain(x0.real**2 + x0.imag**2))
        return self.decode(x if times is None else x[times], first_frame.shape[0])

    def latent_loss(self, frames):
        """The paper's per-step latent loss on frames (B, T, W, C): every frame encoded, z_{k+1} = λ z_k
        asked of the encodings (relative to their size) and decode(encode(y)) = y."""
        z = self.encode(frames)  # (B, T, D)
        lam = self.modal.get_eigenvalues()
        step = jnp.mean(jnp.abs(z[:, 1:] - lam * z[:, :-1]) ** 2) / (jnp.mean(jnp.abs(z) ** 2) + 1e-12)
        return step + jnp.mean((self.decode(z, frames.shape[2]) - frames) ** 2)


BatchedKoopmanString = nn.vmap(
    KoopmanString, in_axes=(0, None, 0), variable_axes={"params": None}, split_rngs={"params": False}
)


class GRUString(nn.Module):
    """The spec's baseline: BatchedDeepRNN of GRU cells, carry seeded by the first frame, zero inputs."""

    n_layers: int = 1  # layers after the first

    @nn.compact
    def __call__(self, first_frames, n_steps, times=None):
        """first_frames (B, W, C) -> (B, T, W, C), or (B, M, W, C) at steps `times` (B, M) only."""
        batch, width, channels = first_frames.shape
        rnn = rec.BatchedDeepRNN(
            d_model=width, d_vars=channels, n_layers=self.n_layers, cell=nn.GRUCell, name="rnn"
        )
        out = rnn(first_frames, jnp.zeros((batch, n_steps, width, channels), first_frames.dtype))
        return out if times is None else jnp.take_along_axis(out, times[:, :, None, None], axis=1)


def make_model(name, d_hidden, dynamics, features, encoder_hidden=0):
    """The module of each --model: apply({"params": p}, first frames (B, W, C), T) -> (B, T, W, C)."""
    if name == "gru":
        return GRUString()
    kind = dynamics if name != "koopman_var" else "lru"
    return BatchedKoopmanString(
        d_hidden=d_hidden,
        dynamics=kind,
        features=features,
        varying=name == "koopman_var",
        encoder_hidden=encoder_hidden if name != "dmd" else 0,
    )


def dmd_parameters(frames, d_hidden):
    """Eigenvalues, encoder and decoder from dynamic mode decomposition of frames (B, T, F).

    Least squares gives K with y_{k+1} = K y_k; its eigenvalues with Im λ > 0 (one of each
    conjugate pair, largest |λ| first) become the model's, and with eigenvectors Φ and
    E = (Φ⁻¹)[selected], y_k = 2 Re(Φ_sel λ^k E y_0): encoder E, decoder 2Φ_sel.
    """
    snapshots = rearrange(frames[:, :-1], "b t f -> (b t) f")
    successors = rearrange(frames[:, 1:], "b t f -> (b t) f")
    koopman = np.linalg.lstsq(snapshots, successors, rcond=None)[0].T  # (F, F)
    eigenvalues, modes = np.linalg.eig(koopman)
    keep = np.flatnonzero((eigenvalues.imag > 0) & (np.abs(eigenvalues) > 1e-6))
    keep = keep[np.argsort(-np.abs(eigenvalues[keep]))][:d_hidden]
    lam = np.full(d_hidden, 0.5 + 0j)  # spare states, if any: decaying, and unconnected below
    lam[: keep.size] = eigenvalues[keep]
    encoder = np.zeros((d_hidden, frames.shape[-1]), complex)
    encoder[: keep.size] = np.linalg.inv(modes)[keep]
    decoder = np.zeros((frames.shape[-1], d_hidden), complex)
    decoder[:, : keep.size] = 2 * modes[:, keep]
    return lam, encoder, decoder


def uses_dmd(name, init):
    """Whether the model's parameters start from dmd_parameters."""
    return name == "dmd" or (name != "gru" and init != "random")


def init_params(name, model, frames, init, seed, dmd=None):
    """Parameters of a model: its own initialisers, then DMD for the modal models as --init says.

    dmd_eigs writes the DMD eigenvalues with set_eigenvalues; dmd (and the dmd model) also the DMD
    encoder and decoder. Koopman_var's gain starts at exactly 1 (PolarGain), so it starts as the
    linear model it modulates. `dmd`: dmd_parameters of these frames, if already computed.
    """
    params = model.init(jax.random.key(seed), jnp.asarray(frames[:1, 0], jnp.float32), 2, None)["params"]
    if not uses_dmd(name, init):
        return params
    params = jax.tree.map(np.asarray, params)
    dmd = dmd or dmd_parameters(rearrange(frames, "b t w c -> b t (w c)"), model.d_hidden)
    lam, encoder, decoder = dmd
    dynamics = make_dynamics(model.dynamics, model.d_hidden)
    _, new = dynamics.apply({"params": params["dynamics"]}, lam, method="set_eigenvalues", mutable=["params"])
    params = {**params, "dynamics": new["params"]}
    if init == "dmd" or name == "dmd":
        params["encoder"] = {
            "kernel": np.concatenate([encoder.real, encoder.imag]).T,
            "bias": 0 * params["encoder"]["bias"],
        }
        params["decoder"] = {
            "kernel": np.concatenate([decoder.real, -decoder.imag], 1).T,
            "bias": 0 * params["decoder"]["bias"],
        }
    return jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params)


def with_power_scale(model, params, frames):
    """Koopman_var with its PolarGain's input scale set to the mean |x0|² of the encoded first frames
    of frames (B, T, W, C): inputs of order 1 to the gain's MLP, whatever the encoder's scale."""
    x0 = model.apply({"params": params}, frames[:, 0], method=lambda module, first: module.encode(first))
    return model.clone(power_scale=float(jnp.mean(jnp.abs(x0) ** 2)))


def eigenvalues_of(params, model):
    """The learned λ (D,) of a modal model's parameters."""
    dynamics = make_dynamics(model.dynamics, model.d_hidden)
    return np.asarray(dynamics.apply({"params": params["dynamics"]}, method="get_eigenvalues"))


# ----------------------------------------------------------------------------- training


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
    budget: float = 0.0  # stop after this many seconds; 0: never
    loss_frames: int = 0  # frames of a window scored (a random subset); 0: all
    seed: int = 0  # batches and windows


# Defaults of the recipe flags. From DMD eigenvalues, whole rollouts from the start; the eigenvalues
# barely move (a phase error δθ grows to T·δθ over T steps). From a random start, the eigenvalues
# are found on short windows, where a phase error costs little, helped by the latent loss, which asks
# each step of the encodings to be a multiplication by λ: least squares in λ, as in DMD; then made
# precise on long windows, which scoring 250 of their frames makes cheap. A random start also gets
# twice as many states as the string has modes (MODEL_SIZES): with exactly one per mode, eigenvalues
# that settle on the same mode leave another unfound.
RECIPES = {
    "dmd": Recipe(steps=600, lr=1e-2, lr_dynamics=1e-6, window=0, latent=0.0, budget=330.0),
    "random": Recipe(
        steps=40000, lr=1e-2, lr_dynamics=0.03, window=32, latent=1.0, loss_frames=250, budget=570.0
    ),
}
MODEL_SIZES = {"dmd": 25, "random": 50}


class Trained(NamedTuple):
    """What `train` returns."""

    params: dict  # the trained parameters
    losses: list  # training loss of each step
    curve: list  # [(seconds, step, validation relative MSE)] at each log line, if validated
    seconds: float  # training time, validation excluded


def train(model, params, frames, recipe, validate=None, log=LOG):
    """Adam on the mean squared error of rollouts from each window's first frame, windows growing by
    `curriculum`, plus recipe.latent times the model's latent_loss. One loop for every model.

    With recipe.loss_frames = M, a window longer than M is scored on M of its frames, a random
    subset (the same expected loss), and the latent loss on its first M frames: the rollout is
    cheap, decoding every frame of a long window is not. `validate(params)`, if given, returns the
    validation relative MSE; it is called at each log line (twenty per run), and its time is not
    counted in the elapsed time or the budget.
    """
    n_steps_train, latent, budget = recipe.steps, recipe.latent, recipe.budget
    optimizer = make_optimizer(params, n_steps_train, recipe.lr, recipe.lr_dynamics, recipe.clip)
    opt_state = optimizer.init(params)

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
        rows = rng.choice(len(frames), size=min(recipe.batch, len(frames)), replace=False)
        offsets = rng.integers(0, frames.shape[1] - length + 1, size=rows.size)
        n_scored = min(length, recipe.loss_frames or length)
        times = None  # every frame scored: the models' whole output, no gather
        if n_scored < length:
            times = np.stack([np.sort(rng.choice(length, n_scored, replace=False)) for _ in rows])
        first = frames[rows, offsets]
        scored = frames[rows[:, None], offsets[:, None] + (np.arange(length) if times is None else times)]
        consecutive = frames[rows[:, None], offsets[:, None] + np.arange(n_scored if latent else 1)]
        params, opt_state, loss = train_step(params, opt_state, (first, times, scored, consecutive), length)
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
            break
    return Trained(params, losses, curve, time.perf_counter() - start - paused)


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


# ----------------------------------------------------------------------------- figure


def fundamental_frequency(u, fs):
    """Times and frequencies (Hz) of the fundamental of displacements u (T, W): the projection on
    sin(πx/L) (the grid spans the string, ends included), one value per period from its upward
    zero crossings."""
    shape = np.sin(np.pi * np.linspace(0, 1, u.shape[1]))
    q = u @ shape
    up = np.flatnonzero((q[:-1] < 0) & (q[1:] >= 0))
    times = (up + q[up] / (q[up] - q[up + 1])) / fs
    return (times[1:] + times[:-1]) / 2, 1 / np.diff(times)


def save_figure(path, preds, true, fs, true_lam, learned):
    """Eigenvalues (true and learned), a validation pluck late in the second, the fundamental's pitch."""
    fig, (disk, trace, pitch) = plt.subplots(
        1, 3, figsize=(16, 4.5), gridspec_kw={"width_ratios": [1, 1.5, 1.5]}
    )
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    disk.plot(circle.real, circle.imag, color="0.7", lw=1)
    if true_lam is not None:
        disk.scatter(
            true_lam.real, true_lam.imag, s=60, facecolors="none", edgecolors="k", label="string (exact)"
        )
    for i, (name, lam) in enumerate(learned.items()):
        lam = np.where(lam.imag < 0, lam.conj(), lam)
        disk.scatter(lam.real, lam.imag, s=20, marker="x", color=f"C{i + 1}", label=name)
    disk.set(
        aspect="equal", xlim=(-1.1, 1.1), ylim=(-0.1, 1.1), title="eigenvalues", xlabel="Re λ", ylabel="Im λ"
    )
    disk.legend(loc="lower center", fontsize=8)
    point, t = true.shape[1] // 3, np.arange(true.shape[0]) / fs
    late = slice(true.shape[0] // 2, true.shape[0] // 2 + round(0.04 * fs))
    trace.plot(t[late], true[late, point, 0], color="k", lw=2, label="true")
    times, freqs = fundamental_frequency(true[..., 0], fs)
    pitch.plot(times, freqs, color="k", lw=2, label="true")
    for i, (name, pred) in enumerate(preds.items()):
        trace.plot(t[late], pred[late, point, 0], color=f"C{i + 1}", lw=1, ls="--", label=name)
        times, freqs = fundamental_frequency(pred[..., 0], fs)
        pitch.plot(times, freqs, color=f"C{i + 1}", lw=1, label=name)
    trace.set(
        title=f"validation pluck at grid point {point}, 40 ms from t = {t[late][0]:.2f} s", xlabel="t / s"
    )
    trace.set_ylabel("u (normalised)")
    trace.legend(loc="upper right", fontsize=8)
    low, high = np.percentile(fundamental_frequency(true[..., 0], fs)[1], [1, 99])
    pitch.set(title="pitch glide: the fundamental's frequency", xlabel="t / s", ylabel="Hz")
    pitch.set_ylim(low - 0.5 * (high - low) - 1, high + 0.5 * (high - low) + 1)
    pitch.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ----------------------------------------------------------------------------- main


def fail(message):
    """One line on stderr, exit status 2, no traceback."""
    print(f"examples.string: {message}", file=sys.stderr)
    sys.exit(2)


def load_data():
    """(frames (N, T, W, C) float64, fs, name of the data, true eigenvalues or None)."""
    if _DATA.value:
        try:
            frames, fs = load_trajectories(_DATA.value)
        except ValueError as error:
            fail(str(error))
        if _VAL.value >= len(frames):
            fail(f"--val={_VAL.value}: expected fewer than the {len(frames)} trajectories in --data")
        return frames, fs, Path(_DATA.value).name, None
    fs, n_steps = _FS.value, round(_SECONDS.value * _FS.value)
    rng = np.random.default_rng(_SEED.value)
    n_plucks = _TRAIN.value + _VAL.value
    frames = make_plucks(
        n_plucks, _MODES.value, n_steps, fs, _POINTS.value, rng, _STRING.value, _SIMULATOR.value
    )
    if _SAVE_DATA.value:
        np.savez(_SAVE_DATA.value, u=frames[..., 0], v=frames[..., 1], fs=fs)
    true_lam = physics.discrete_eigenvalues(_MODES.value, fs) if _STRING.value == "linear" else None
    return frames, fs, _STRING.value, true_lam


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)  # no note about backends this machine lacks
    start = time.perf_counter()
    frames, fs, data_name, true_lam = load_data()
    n_train = len(frames) - _VAL.value
    scale = frames[:n_train].std(axis=(0, 1, 2))  # per channel: v is ~1000 times u
    frames = (frames / scale).astype(np.float32)
    train_frames, val_frames = frames[:n_train], frames[n_train:]
    n_steps = frames.shape[1]
    shape = f"(T, W, C) = {frames.shape[1:]}, fs {fs:g} Hz"
    print(f"data {data_name}: {n_train} train / {len(val_frames)} validation, {shape}")

    results, preds, learned, curves = [], {}, {}, {}
    start_from = "random" if _INIT.value == "random" else "dmd"  # the key of RECIPES and MODEL_SIZES
    model_size = _MODEL_SIZE.value or MODEL_SIZES[start_from]
    dmd, dmd_seconds = None, 0.0  # one least-squares fit, counted in the time of every model using it
    for name in MODELS if _MODEL.value == "all" else [_MODEL.value]:
        print(f"--- {name}")
        features = frames.shape[2] * frames.shape[3]
        model = make_model(name, model_size, _DYNAMICS.value, features, _ENCODER_HIDDEN.value)
        if uses_dmd(name, _INIT.value) and dmd is None:
            tic = time.perf_counter()
            flat = rearrange(train_frames.astype(np.float64), "b t w c -> b t (w c)")
            dmd = dmd_parameters(flat, model_size)
            dmd_seconds = time.perf_counter() - tic
        tic = time.perf_counter()
        params = init_params(name, model, train_frames, _INIT.value, _SEED.value, dmd)
        if name == "koopman_var":
            model = with_power_scale(model, params, train_frames)
        seconds = time.perf_counter() - tic + (dmd_seconds if uses_dmd(name, _INIT.value) else 0.0)
        if name != "dmd":
            given = dict(
                steps=_STEPS,
                lr=_LR,
                lr_dynamics=_LR_DYNAMICS,
                window=_WINDOW,
                latent=_LATENT,
                loss_frames=_LOSS_FRAMES,
                budget=_BUDGET,
            )
            recipe = dataclasses.replace(
                RECIPES[start_from],
                batch=_BATCH.value,
                clip=_CLIP.value,
                seed=_SEED.value,
                **{key: flag.value for key, flag in given.items() if flag.value is not None},
            )
            if name == "gru":
                recipe = dataclasses.replace(recipe, latent=0.0)  # no latent state to ask it of
            validate = partial(validation_mse, model, val_frames=val_frames)
            trained = train(model, params, train_frames, recipe, validate)
            params, curves[name] = trained.params, trained.curve
            seconds += trained.seconds  # the validation's time is not training time
        preds[name] = predict(model, params, val_frames[:, 0], n_steps)
        rel_mse, rel_mae = errors(preds[name], val_frames)
        n_params = sum(p.size for p in jax.tree.leaves(params))
        results.append(
            dict(model=name, rel_mse=rel_mse, rel_mae=rel_mae, params=n_params, train_seconds=seconds)
        )
        print(f"{name}: validation relative MSE {rel_mse:.3e}, relative MAE {rel_mae:.3e}, {seconds:.0f} s")
        if name != "gru":
            learned[name] = eigenvalues_of(params, model)

    paper = PAPER.get(data_name, {})
    print(f"\n{'model':<12} {'params':>8} {'train s':>8} {'rel MSE':>10} {'rel MAE':>10} {'paper MSE':>10}")
    for r in results:
        ref = f"{paper[r['model']]:.4g}" if r["model"] in paper else "–"
        cells = f"{r['params']:>8} {r['train_seconds']:>8.0f} {r['rel_mse']:>10.3e} {r['rel_mae']:>10.3e}"
        print(f"{r['model']:<12} {cells} {ref:>10}")
    if true_lam is not None:
        for name, lam in learned.items():
            worst = frequency_errors(lam, true_lam, train_frames)
            print(f"{name}: largest frequency error over the modes with ≥ 1 % of the energy: {worst:.2%}")
    if _JSON.value:
        record = {"string": data_name, "fs": fs, "n_steps": n_steps, "results": results}
        Path(_JSON.value).write_text(json.dumps(record, indent=1))
    if _CURVES.value:
        Path(_CURVES.value).write_text(json.dumps(curves))
    if _FIGURE.value:
        save_figure(_FIGURE.value, {k: v[0] for k, v in preds.items()}, val_frames[0], fs, true_lam, learned)
        print(f"figure: {_FIGURE.value}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    app.run(main)
