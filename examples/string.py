"""Learn a vibrating string: a Koopman-style modal model trained on simulated plucks.

    python -m examples.string [--dynamics=lru|discrete] [--init=dmd_eigs|dmd|random] [--steps=600]

(Run it as a module from the repository root: as a script, this file would shadow Python's own
`string` module.)

The string is linear and stiff with frequency-dependent damping, fixed at both ends:

    u_tt = c² u_xx − κ² u_xxxx − 2σ0 u_t + 2σ1 u_txx,   0 ≤ x ≤ L.

Its modes are sin(k_n x), k_n = nπ/L, with ω_n² = c² k_n² + κ² k_n⁴ and σ_n = σ0 + σ1 k_n². The
reference simulation steps the real first-order system in (q, q̇) of N modes with its exact
matrix exponential in float64; it never uses the complex eigenvalue formula. Data: Gaussian
plucks (random centre and width, zero velocity), displacement u and velocity v on W grid points:
frames (T, W, C=2), the paper's convention.

Model: encoder (Dense) from the first frame to a complex modal state x0 (D,) -> modal dynamics
with prepend_ones=True -> decoder (Dense) from [Re x_k, Im x_k] back to (W, C); the whole
second is predicted from the first frame, and trained by Adam on the mean squared error of whole
rollouts of normalised frames. Initialisation (--init):
  dmd_eigs  eigenvalues from dynamic mode decomposition (DMD) of the training frames, a
            least-squares estimate written with set_eigenvalues; encoder and decoder random and
            learned. The eigenvalues get a tiny rate (--lr_dynamics): a phase error δθ grows to
            T·δθ over a T-step rollout.
  dmd       eigenvalues, encoder and decoder all from DMD: exact before any gradient step.
  random    everything from the LRU initialisation, learned.
"""

import logging
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import scipy.linalg
from absl import app, flags
from einops import rearrange

import recurrent as rec

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

_DYNAMICS = flags.DEFINE_enum("dynamics", "lru", ["lru", "discrete"], "LRUDynamics or DiscreteModalDynamics.")
_INIT = flags.DEFINE_enum(
    "init",
    "dmd_eigs",
    ["dmd", "dmd_eigs", "random"],
    "dmd: eigenvalues, encoder and decoder from DMD of the training data; dmd_eigs: eigenvalues only, "
    "encoder and decoder learned; random: everything learned from the LRU initialisation.",
)
_MODES = flags.DEFINE_integer("modes", 25, "String modes N in the simulated data.", lower_bound=1)
_MODEL_SIZE = flags.DEFINE_integer("model_size", 25, "Complex state size D of the model.", lower_bound=1)
_FS = flags.DEFINE_float("fs", 4000.0, "Sample rate, Hz.")
_SECONDS = flags.DEFINE_float("seconds", 1.0, "Length of each pluck, s.")
_POINTS = flags.DEFINE_integer("points", 101, "Grid points W.", lower_bound=3)
_TRAIN = flags.DEFINE_integer("train", 256, "Training plucks.", lower_bound=1)
_VAL = flags.DEFINE_integer("val", 16, "Validation plucks.", lower_bound=1)
_BATCH = flags.DEFINE_integer("batch", 16, "Plucks per training step.", lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", 600, "Adam steps.", lower_bound=0)
_LR = flags.DEFINE_float("lr", 1e-2, "Adam learning rate of encoder and decoder (cosine-decayed).")
_LR_DYNAMICS = flags.DEFINE_float("lr_dynamics", 1e-6, "Adam learning rate of the eigenvalue parameters.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed for plucks, split and model.")
_FIGURE = flags.DEFINE_string("figure", "examples/string.png", "Where to save the figure (empty: none).")

# A steel guitar string tuned to A2: a 650 mm scale length, textbook E and ρ of steel, a 0.5 mm
# solid core (inharmonicity B = (κπ / cL)² ≈ 4.5e-4). σ0 and σ1 are chosen for T60 = 6 ln 10 / σ
# ≈ 7 s at the fundamental and ≈ 1.3 s near 2 kHz, plausible for such a string; the loss model is
# the one of Bilbao, Numerical Sound Synthesis (2009), ch. 7.
LENGTH = 0.65  # m
F0 = 110.0  # Hz, fundamental of the ideal string: c = 2 L F0
RADIUS = 2.5e-4  # m
YOUNG = 2.0e11  # Pa
DENSITY = 7850.0  # kg/m³
SIGMA0 = 1.94  # 1/s
SIGMA1 = 1.27e-3  # m²/s
WAVE_SPEED = 2 * LENGTH * F0  # c, m/s
STIFFNESS = RADIUS / 2 * np.sqrt(YOUNG / DENSITY)  # κ = sqrt(E I / (ρ A)) for a solid round core, m²/s


# ----------------------------------------------------------------------------- reference physics


def string_modes(n_modes):
    """Wavenumbers k_n, angular frequencies ω_n and decay rates σ_n of modes n = 1..N."""
    k = np.arange(1, n_modes + 1) * np.pi / LENGTH
    omega = np.sqrt(WAVE_SPEED**2 * k**2 + STIFFNESS**2 * k**4)
    return k, omega, SIGMA0 + SIGMA1 * k**2


def discrete_eigenvalues(n_modes, fs):
    """Exact discretisation of each mode: λ_n = exp((−σ_n + i ω_dn) / fs), ω_dn = sqrt(ω_n² − σ_n²)."""
    _, omega, sigma = string_modes(n_modes)
    return np.exp((-sigma + 1j * np.sqrt(omega**2 - sigma**2)) / fs)


def pluck(centre, width, n_modes):
    """Modal amplitudes q_n(0) of a Gaussian displacement, projected on sin(k_n x)."""
    x = np.linspace(0, LENGTH, 4001)
    shape = np.exp(-0.5 * ((x - centre) / width) ** 2)
    k, _, _ = string_modes(n_modes)
    return 2 / LENGTH * np.trapezoid(shape * np.sin(np.outer(k, x)), x, axis=1)


def simulate(q0, n_steps, fs, n_points):
    """(T, W, 2) displacement and velocity from modal amplitudes q0 (N,) at rest.

    Steps the real system d/dt (q, q̇) = [[0, 1], [−ω², −2σ]] (q, q̇) per mode with its exact matrix
    exponential in float64.
    """
    n_modes = q0.size
    k, omega, sigma = string_modes(n_modes)
    generator = np.zeros((2 * n_modes, 2 * n_modes))
    idx = np.arange(n_modes)
    generator[idx, n_modes + idx] = 1
    generator[n_modes + idx, idx] = -(omega**2)
    generator[n_modes + idx, n_modes + idx] = -2 * sigma
    step = scipy.linalg.expm(generator / fs)
    states = np.empty((n_steps, 2 * n_modes))
    states[0] = np.concatenate([q0, np.zeros(n_modes)])
    for t in range(1, n_steps):
        states[t] = step @ states[t - 1]
    shapes = np.sin(np.outer(np.linspace(0, LENGTH, n_points), k))  # (W, N)
    return np.stack([states[:, :n_modes] @ shapes.T, states[:, n_modes:] @ shapes.T], axis=-1)


def make_plucks(n_plucks, n_modes, n_steps, fs, n_points, rng):
    """Gaussian plucks at random centres (0.1 L to 0.9 L) and widths (0.02 L to 0.1 L): (B, T, W, 2)."""
    centres = rng.uniform(0.1, 0.9, n_plucks) * LENGTH
    widths = rng.uniform(0.02, 0.1, n_plucks) * LENGTH
    return np.stack(
        [simulate(pluck(c, w, n_modes), n_steps, fs, n_points) for c, w in zip(centres, widths, strict=True)]
    )


# ----------------------------------------------------------------------------- model


def make_dynamics(kind, d_hidden, **kwargs):
    """The modal dynamics of the model: LRUDynamics ("lru") or DiscreteModalDynamics ("discrete")."""
    if kind == "lru":
        return rec.LRUDynamics(
            d_hidden=d_hidden,
            prepend_ones=True,
            r_min=0.99,
            r_max=0.9999,
            max_phase=np.pi,
            clip_eigs=True,
            **kwargs,
        )
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


class KoopmanString(nn.Module):
    """First frame (W, C) -> encoder -> x0 (D,) complex -> modal rollout -> decoder -> (T, W, C)."""

    d_hidden: int  # D, complex modal state size
    dynamics: str  # "lru" or "discrete"

    @nn.compact
    def __call__(self, first_frame, n_steps):
        width, channels = first_frame.shape
        z = nn.Dense(2 * self.d_hidden, name="encoder")(rearrange(first_frame, "w c -> (w c)"))
        x0 = jax.lax.complex(z[: self.d_hidden], z[self.d_hidden :])
        x = make_dynamics(self.dynamics, self.d_hidden, name="dynamics")(x0, n_steps)  # (T, D)
        y = nn.Dense(width * channels, name="decoder")(jnp.concatenate([x.real, x.imag], axis=-1))
        return rearrange(y, "t (w c) -> t w c", w=width)


BatchedKoopmanString = nn.vmap(
    KoopmanString, in_axes=(0, None), variable_axes={"params": None}, split_rngs={"params": False}
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


def initialise_from_dmd(params, model, frames, eigenvalues_only):
    """params with the DMD eigenvalues written by set_eigenvalues and, unless eigenvalues_only,
    the DMD encoder and decoder as the Dense kernels."""
    lam, encoder, decoder = dmd_parameters(rearrange(frames, "b t w c -> b t (w c)"), model.d_hidden)
    dynamics = make_dynamics(model.dynamics, model.d_hidden)
    _, new = dynamics.apply({"params": params["dynamics"]}, lam, method="set_eigenvalues", mutable=["params"])
    params = {**params, "dynamics": new["params"]}
    if not eigenvalues_only:
        zero_bias = {name: 0 * params[name]["bias"] for name in ("encoder", "decoder")}
        params["encoder"] = {
            "kernel": np.concatenate([encoder.real, encoder.imag]).T,
            "bias": zero_bias["encoder"],
        }
        params["decoder"] = {
            "kernel": np.concatenate([decoder.real, -decoder.imag], 1).T,
            "bias": zero_bias["decoder"],
        }
    return jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params)


def relative_mse(pred, true):
    return float(np.sum((np.asarray(pred) - true) ** 2) / np.sum(true**2))


def train(model, params, frames, n_steps_train, batch, lr, lr_dynamics, seed, log=print):
    """Adam on the mean squared error of whole rollouts; returns the parameters and the losses.

    The eigenvalues get their own, much smaller, rate: a phase error δθ grows to T·δθ by the end
    of a T-step rollout.
    """
    n_steps = frames.shape[1]
    optimizer = optax.multi_transform(
        {
            name: optax.adam(optax.cosine_decay_schedule(rate, max(n_steps_train, 1)))
            for name, rate in (("dynamics", lr_dynamics), ("maps", lr))
        },
        {name: "dynamics" if name == "dynamics" else "maps" for name in params},
    )
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, opt_state, target):
        def loss_fn(p):
            return jnp.mean((model.apply({"params": p}, target[:, 0], n_steps) - target) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng, losses, start = np.random.default_rng(seed), [], time.perf_counter()
    for i in range(n_steps_train):
        target = jnp.asarray(frames[rng.choice(len(frames), size=min(batch, len(frames)), replace=False)])
        params, opt_state, loss = step(params, opt_state, target)
        losses.append(float(loss))
        if i % max(n_steps_train // 10, 1) == 0 or i == n_steps_train - 1:
            elapsed = time.perf_counter() - start
            log(f"step {i + 1:5d}/{n_steps_train}  loss {losses[-1]:.3e}  {elapsed:5.0f} s")
    return params, losses


def save_figure(path, true_lam, learned_lam, pred, true, fs, point):
    fig, (disk, trace) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1, 1.6]})
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    disk.plot(circle.real, circle.imag, color="0.7", lw=1)
    true_lam, learned_lam = (np.where(lam.imag < 0, lam.conj(), lam) for lam in (true_lam, learned_lam))
    disk.scatter(
        true_lam.real, true_lam.imag, s=60, facecolors="none", edgecolors="C0", label="string (exact)"
    )
    disk.scatter(learned_lam.real, learned_lam.imag, s=25, marker="x", color="C1", label="learned")
    disk.set(
        aspect="equal",
        xlim=(-1.1, 1.1),
        ylim=(-0.1, 1.1),
        title="eigenvalues on the unit disk",
        xlabel="Re λ",
        ylabel="Im λ",
    )
    disk.legend(loc="lower center")
    t = np.arange(true.shape[0]) / fs
    trace.plot(t, true[:, point, 0], color="C0", lw=1.5, label="true")
    trace.plot(t, pred[:, point, 0], color="C1", lw=1, ls="--", label="predicted")
    trace.set(
        xlim=(0, 0.05),
        title=f"validation pluck: displacement at grid point {point}, first 50 ms of 1 s",
        xlabel="t / s",
        ylabel="u (normalised)",
    )
    trace.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)  # no note about backends this machine lacks
    start = time.perf_counter()
    rng = np.random.default_rng(_SEED.value)
    n_steps, fs = round(_SECONDS.value * _FS.value), _FS.value
    data = make_plucks(_TRAIN.value + _VAL.value, _MODES.value, n_steps, fs, _POINTS.value, rng)
    scale = data[: _TRAIN.value].std(axis=(0, 1, 2))  # per channel: v is ~1000 times u
    data = (data / scale).astype(np.float32)
    train_frames, val_frames = data[: _TRAIN.value], data[_TRAIN.value :]
    print(
        f"data: {len(train_frames)} train / {len(val_frames)} validation plucks, (T, W, C) = {data.shape[1:]}"
    )

    model = BatchedKoopmanString(d_hidden=_MODEL_SIZE.value, dynamics=_DYNAMICS.value)
    params = model.init(jax.random.key(_SEED.value), jnp.asarray(val_frames[:1, 0]), n_steps)["params"]
    if _INIT.value != "random":
        params = initialise_from_dmd(
            params, model, train_frames.astype(np.float64), _INIT.value == "dmd_eigs"
        )
    predict = jax.jit(lambda p, first: model.apply({"params": p}, first, n_steps))
    initial = relative_mse(predict(params, val_frames[:, 0]), val_frames)
    print(f"init ({_INIT.value}): validation relative MSE {initial:.3e}")

    params, _ = train(
        model, params, train_frames, _STEPS.value, _BATCH.value, _LR.value, _LR_DYNAMICS.value, _SEED.value
    )
    pred = np.asarray(predict(params, val_frames[:, 0]))
    elapsed = time.perf_counter() - start
    result = relative_mse(pred, val_frames)
    print(f"validation relative MSE {result:.3e} (paper's LRU, linear string: 1.4e-3), total {elapsed:.0f} s")
    if _FIGURE.value:
        dynamics = make_dynamics(_DYNAMICS.value, _MODEL_SIZE.value)
        learned = np.asarray(dynamics.apply({"params": params["dynamics"]}, method="get_eigenvalues"))
        save_figure(
            _FIGURE.value,
            discrete_eigenvalues(_MODES.value, fs),
            learned,
            pred[0],
            val_frames[0],
            fs,
            _POINTS.value // 3,
        )
        print(f"figure: {Path(_FIGURE.value)}")


if __name__ == "__main__":
    app.run(main)
