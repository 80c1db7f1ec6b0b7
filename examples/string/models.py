"""The string example's models: each maps first frames (B, W, C) to rollouts (B, T, W, C).

  dmd          dynamic mode decomposition: least squares, no gradient step (a KoopmanString whose
               parameters come from `dmd_parameters`).
  koopman      encoder -> x0 (D,) complex -> LRUDynamics -> decoder (Dense) per frame; the encoder
               is a Dense layer, plus an MLP with encoder_hidden. Its start on a nonlinear string
               may be a frequency bank (`frequency_bank`).
  koopman_var  the same with LRUDynamicsVarying: the rollout times a gain exp(MLP(|x|²)), a
               log-magnitude and a phase (PolarGain), divided by its value at the start; with
               `pitch`, also each pluck's frequencies raised by an MLP of its |x0|².
  lru, s5      the paper's state-space models, a one-to-many modal first layer and residual
               sequence layers (ssm.py).
  gru          BatchedDeepRNN with GRU cells, zero inputs (the spec's baseline), inside a lift of the
               first frame and a readout of each state.
  gru_dmd      the same GRU started as the Hankel DMD fit (`start_gru_dmd`): lift, readout and a
               recurrence linear in its small state, with DMD's eigenvalues.

Shapes: B batch, T steps, W grid points, C channels, D complex modal state size, F = W·C.
"""

import dataclasses
import operator
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from einops import rearrange

import recurrent as rec
from examples.string import ssm
from examples.string.configs.base import PAPER_SSM, ConfigError
from examples.string.input_pipeline import n_modes
from mlp import MLP

# `pitch`: the MLP's output, of order 1 after a few steps, times this is the relative raise of each
# frequency. A raise δ turns the last of T steps by T·δ·arg λ: unscaled, one Adam step on its last
# layer would turn a 1000-step rollout's end by radians.
PITCH_SCALE = 0.01


def make_dynamics(kind, d_hidden, ranges, gain=None, **kwargs):
    """LRUDynamics ("lru"; LRUDynamicsVarying with a `gain` model) or DiscreteModalDynamics ("discrete"),
    their eigenvalues initialised in ranges = (r_min, r_max, max_phase) of |λ| and arg λ."""
    r_min, r_max, max_phase = ranges
    if kind == "lru":
        fields = dict(r_min=r_min, r_max=r_max, max_phase=max_phase, clip_eigs=True, prepend_ones=True)
        if gain is not None:
            return rec.LRUDynamicsVarying(d_hidden=d_hidden, model=gain, **fields, **kwargs)
        return rec.LRUDynamics(d_hidden=d_hidden, **fields, **kwargs)
    return rec.DiscreteModalDynamics(
        d_hidden=d_hidden,
        prepend_ones=True,
        clip=True,
        r_min=r_min,
        r_max=r_max,
        min_phase=0.0,
        max_phase=max_phase,
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
    ranges: tuple  # (r_min, r_max, max_phase): the eigenvalues' random initialisation, |λ| and arg λ
    varying: bool = False  # Koopman_var: LRUDynamicsVarying with a PolarGain, relative to the start
    power_scale: float = 1.0  # Koopman_var: the typical |x|², by which the PolarGain divides its input
    encoder_hidden: int = 0  # > 0: encoder = Dense + an MLP of this width, its output zero at init
    pitch: bool = False  # Koopman_var: frequencies raised by PITCH_SCALE · MLP(|x0|² / power_scale) per pluck

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
        self.modal = make_dynamics(self.dynamics, self.d_hidden, self.ranges, self.gain, name="dynamics")
        if self.pitch:
            self.raise_pitch = nn.Sequential(
                [MLP([64, 64]), nn.selu, nn.Dense(self.d_hidden, kernel_init=nn.initializers.zeros)]
            )
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

        The rows are x_k = λ^k x0: the powers λ^k, the same for every pluck (and only the rows asked
        for: training scores a few hundred of thousands, λ^k = outer · inner), times the encoding. A
        linear model decodes them with `decode_powers`, one matrix product over the batch. Koopman_var
        divides its rollout by the gain at the start, x_k = λ^k x0 g(|x_k|²) / g(|x0|²), so the phase
        the gain adds is what a mode has gained since the pluck, as the string's glide is, and
        x_0 = x0, the encoding.
        """
        x0, lam = self.encode(first_frame), self.modal.get_eigenvalues()
        if times is None:
            powers = rec.modal_rollout(lam, jnp.ones_like(lam), n_steps, 0)
        else:
            outer, inner = rec.rollout_factors(lam, n_steps, 0)
            powers = outer[times // inner.shape[0]] * inner[times % inner.shape[0]]
        if self.pitch:
            powers = powers * turn(self.raise_by(x0), jnp.arange(n_steps) if times is None else times)
        if not self.varying:
            return self.decode_powers(powers, x0, first_frame.shape[0])
        x = rec.modulate(self.gain, powers * x0, self.d_hidden)  # row by row: only the rows asked for
        x = x * jnp.exp(-self.gain.log_gain(x0.real**2 + x0.imag**2))
        return self.decode(x, first_frame.shape[0])

    def decode_powers(self, powers, x0, width):
        """decode(powers · x0) for powers (M, D), without forming the rows (M, D) of each pluck: the
        decoder is affine, [Re x, Im x] K + bias with K = [K_r; K_i] (2D, F), so the row λ^k ⊙ x0
        decodes to Re(λ^k) · a + Im(λ^k) · b + bias, where a = Re x0 ⊙ K_r + Im x0 ⊙ K_i and
        b = Re x0 ⊙ K_i − Im x0 ⊙ K_r (row d: the decoded x0_d e_d and i x0_d e_d less the bias), each
        (D, F) and made row by row; then one product with the powers shared by the batch (a training
        step 1.5–2× cheaper than decoding each pluck's rows, docs/performance.md)."""
        bias = self.decode(jnp.zeros_like(x0), width)  # also creates the decoder's parameters at init
        kernel = self.decoder.variables["params"]["kernel"]
        k_r, k_i = kernel[: self.d_hidden], kernel[self.d_hidden :]
        re, im = x0.real[:, None], x0.imag[:, None]
        parts = jnp.concatenate([re * k_r + im * k_i, re * k_i - im * k_r])  # (2D, F)
        weights = jnp.concatenate([powers.real, powers.imag], axis=-1)  # (M, 2D)
        return rearrange(weights @ parts, "m (w c) -> m w c", w=width) + bias

    def raise_by(self, x0):
        """With `pitch`, the phase δ (D,) each step adds, turning the rollout λ^k x0 into (λ e^{iδ})^k x0:
        each frequency raised by the fraction PITCH_SCALE · MLP(|x0|² / power_scale) of it, the MLP's output
        zero at the start. The membrane barely decays in its 0.25 s, so Koopman_var's gain, which
        follows a change of power, cannot give a louder pluck its higher pitch; this can. Without
        `pitch`, zeros."""
        if not self.pitch:
            return jnp.zeros(x0.shape, x0.real.dtype)
        power = (x0.real**2 + x0.imag**2) / self.power_scale
        return jnp.angle(self.modal.get_eigenvalues()) * PITCH_SCALE * self.raise_pitch(power)

    def start(self, first_frame, point):
        """The synthesis state of a pluck at grid point `point`: (x0, row, 0, δ). x0 is the encoding; the
        displacement there is Re(x_k · row) + bias, so row is that point's decoder row as complex
        weights, times Koopman_var's gain at the start, 1 / g(|x0|²), which stays fixed; δ is the
        pluck's pitch raise (`raise_by`), computed once, as the rollout computes it."""
        x0 = self.encode(first_frame)
        kernel = self.decoder.variables["params"]["kernel"][:, point * first_frame.shape[-1]]  # u there
        row = jax.lax.complex(kernel[: self.d_hidden], -kernel[self.d_hidden :])
        if self.varying:
            row = row * jnp.exp(-self.gain.log_gain(x0.real**2 + x0.imag**2))
        return x0, row, jnp.zeros((), jnp.int32), self.raise_by(x0)

    def factors(self, n_steps):
        """The rollout's factors (recurrent.rollout_factors): the same for every pluck."""
        return rec.rollout_factors(self.modal.get_eigenvalues(), n_steps, 0)

    def synthesise_block(self, state, factors, length, point, channels):
        """The next `length` samples of the displacement at grid point `point`, and the next state.

        Each block's rows are computed from x0 and the rollout's factors as the whole rollout's are,
        so the stream equals it; only the point's decoder row is applied (`start`).
        """
        x0, row, step, delta = state
        x = rec.rollout_block(factors, x0, step, length)
        if self.pitch:
            x = x * turn(delta, step + jnp.arange(length))
        if self.varying:
            x = rec.modulate(self.gain, x, self.d_hidden)
        bias = self.decoder.variables["params"]["bias"][point * channels]
        return (x @ row).real + bias, (x0, row, step + length, delta)

    def synthesise(self, first_frame, n_steps, point):
        """(T,) displacement at grid point `point` from a first frame (W, C), in one shot."""
        state = self.start(first_frame, point)
        return self.synthesise_block(state, self.factors(n_steps), n_steps, point, first_frame.shape[-1])[0]

    def latent_loss(self, frames):
        """The paper's per-step latent loss on frames (B, T, W, C): every frame encoded, z_{k+1} = λ z_k
        asked of the encodings (relative to their size) and decode(encode(y)) = y."""
        z = self.encode(frames)  # (B, T, D)
        lam = self.modal.get_eigenvalues()
        step = jnp.mean(jnp.abs(z[:, 1:] - lam * z[:, :-1]) ** 2) / (jnp.mean(jnp.abs(z) ** 2) + 1e-12)
        return step + jnp.mean((self.decode(z, frames.shape[2]) - frames) ** 2)


def turn(delta, steps):
    """e^{i k δ} (M, D) at steps k (M,), from the phase δ (D,) added per step."""
    return jnp.exp(1j * steps[:, None] * delta)


BatchedKoopmanString = nn.vmap(
    KoopmanString, in_axes=(0, None, None), variable_axes={"params": None}, split_rngs={"params": False}
)


class GRUString(nn.Module):
    """The GRU baseline: the seed's BatchedDeepRNN of GRU cells, zero inputs, its carry seeded by the
    first frame. With `hidden`, inside a lift and a readout: the first frame (F,) lifted to a state of
    `hidden` features (Dense), the states read out to frames (Dense), so that the state's size and
    scale are the GRU's own, not the string's; without, the seed's form, the state itself the frame."""

    hidden: int = 0  # the lifted state's features; 0: the seed's form
    n_layers: int = 0  # layers after the first
    scale: float = 1.0  # with `hidden`: the state is the lift times this, read out divided by it

    @nn.compact
    def __call__(self, first_frames, n_steps, times=None):
        """first_frames (B, W, C) -> (B, T, W, C), or (B, M, W, C) at steps `times` (M,) only."""
        batch, width, channels = first_frames.shape
        if self.hidden:
            flat = rearrange(first_frames, "b w c -> b (w c)")
            first_frames = self.scale * nn.Dense(self.hidden, name="lift")(flat)[..., None]  # (B, hidden, 1)
        frame = first_frames.shape[1:]
        rnn = rec.BatchedDeepRNN(*frame, n_layers=self.n_layers, cell=nn.GRUCell, name="rnn")
        out = rnn(first_frames, jnp.zeros((batch, n_steps, *frame), first_frames.dtype))
        out = out if times is None else out[:, times]
        if self.hidden:
            out = nn.Dense(width * channels, name="readout")(out[..., 0] / self.scale)
            out = rearrange(out, "b t (w c) -> b t w c", w=width)
        return out


def unbatched(model):
    """The KoopmanString of a BatchedKoopmanString, same fields and parameters: one pluck at a time."""
    fields = (
        "d_hidden",
        "dynamics",
        "features",
        "ranges",
        "varying",
        "power_scale",
        "encoder_hidden",
        "pitch",
    )
    return KoopmanString(**{name: getattr(model, name) for name in fields})


def bank_modes(config):
    """The DMD modes a frequency bank spans: config.bank_modes, or the string's simulated modes (10 at
    4 kHz, 25 at 16 kHz; input_pipeline.n_modes), at most model_size."""
    return config.bank_modes or min(config.model_size, n_modes(config))


def least_squares(pairs):
    """K minimising Σ ‖x K − y‖² over the rows of the blocks (x (R, F), y (R, G)) in `pairs`, from a
    QR of [x y] updated a block at a time: as accurate as one QR, in the memory of a block."""
    r = None
    for inputs, targets in pairs:
        n, top = inputs.shape[1], 0 if r is None else len(r)
        # Column-major, as LAPACK takes it: numpy's QR would copy a row-major block first (a quarter of
        # its time for a DMD fit's blocks of 128 000 rows).
        block = np.empty((top + len(inputs), n + targets.shape[1]), order="F")
        block[:top] = 0 if r is None else r
        block[top:, :n], block[top:, n:] = inputs, targets
        r = np.linalg.qr(block, mode="r")
    return np.linalg.lstsq(r[:n, :n], r[:n, n:], rcond=None)[0]


def dmd_parameters(frames, d_hidden, delays=1, chunk=32):
    """Eigenvalues, encoder and decoder from dynamic mode decomposition of frames (B, T, F).

    Least squares gives K with y_{k+1} = K y_k; its eigenvalues with Im λ > 0 (one of each
    conjugate pair, largest |λ| first) become the model's, and with eigenvectors Φ and
    E = (Φ⁻¹)[selected], y_k = 2 Re(Φ_sel λ^k E y_0): encoder E, decoder 2Φ_sel.

    With delays = d > 1, y_k stacks d consecutive frames (Hankel DMD): with displacements alone, a
    one-step map cannot be exact (a string's state is its displacement and its velocity), two frames
    can. The models see one frame, so the encoder is E applied to that frame and the d − 1 next ones
    fitted as a linear map of it: plucks start at rest, so the next frames are a linear function
    of the first. The decoder is 2Φ_sel's rows of the first frame. `chunk` trajectories at a time.
    """
    n_frames = frames.shape[-1]

    def stack(block):  # (b, T, F) -> (b, T - d + 1, dF)
        return np.concatenate([block[:, j : block.shape[1] - delays + 1 + j] for j in range(delays)], -1)

    def pairs():
        for i in range(0, len(frames), chunk):
            stacked = stack(frames[i : i + chunk])
            yield (
                rearrange(stacked[:, :-1], "b t f -> (b t) f"),
                rearrange(stacked[:, 1:], "b t f -> (b t) f"),
            )

    koopman = least_squares(pairs()).T  # (dF, dF)
    eigenvalues, modes = np.linalg.eig(koopman)
    keep = np.flatnonzero((eigenvalues.imag > 0) & (np.abs(eigenvalues) > 1e-6))
    keep = keep[np.argsort(-np.abs(eigenvalues[keep]))][:d_hidden]
    lam = np.full(d_hidden, 0.5 + 0j)  # spare states, if any: decaying, and unconnected below
    lam[: keep.size] = eigenvalues[keep]
    encoder = np.zeros((d_hidden, delays * n_frames), complex)
    encoder[: keep.size] = np.linalg.inv(modes)[keep]
    decoder = np.zeros((n_frames, d_hidden), complex)
    decoder[:, : keep.size] = 2 * modes[:n_frames, keep]
    if delays > 1:
        first = stack(frames[:, :delays])[:, 0]  # (B, dF): each trajectory's first d frames
        following = least_squares([(first[:, :n_frames], first[:, n_frames:])])  # (F, (d-1)F)
        encoder = encoder[:, :n_frames] + encoder[:, n_frames:] @ following.T
    return lam, encoder, decoder


def frequency_bank(dmd, n_modes, copies, step):
    """A linear model's start on data whose pitch depends on the amplitude (the tension-modulated
    string): the first n_modes states of a DMD start (lam, encoder, decoder from `dmd_parameters`),
    each followed by `copies` more at its frequency raised by step, 2·step, ... (relative), with its
    decay and its mode shape (decoder column) and no encoding (zero encoder rows), so the start's
    rollout is DMD's. One frequency per mode is right for one amplitude only; given a bank of nearby
    ones, the encoder (with an MLP) learns the mix that each pluck needs. Copy j of state i is state
    j·n_modes + i of the n_modes·(copies + 1) returned."""
    lam, encoder, decoder = dmd[0][:n_modes], dmd[1][:n_modes], dmd[2][:, :n_modes]
    raised = 1 + step * np.repeat(np.arange(copies + 1), lam.size)
    lam = np.tile(np.abs(lam), copies + 1) * np.exp(1j * np.tile(np.angle(lam), copies + 1) * raised)
    encoder = np.concatenate([encoder, np.zeros((copies * encoder.shape[0], encoder.shape[1]), complex)])
    return lam, encoder, np.tile(decoder, (1, copies + 1))


def with_power_scale(model, params, frames):
    """Koopman_var with its PolarGain's input scale set to the mean |x0|² of the encoded first frames
    of frames (B, T, W, C): inputs of order 1 to the gain's MLP, whatever the encoder's scale."""
    x0 = model.apply({"params": params}, frames[:, 0], method=lambda module, first: module.encode(first))
    return model.clone(power_scale=float(jnp.mean(jnp.abs(x0) ** 2)))


def eigenvalues_of(params, model):
    """The learned λ (D,) of a modal model's parameters."""
    dynamics = make_dynamics(model.dynamics, model.d_hidden, model.ranges)
    return np.asarray(dynamics.apply({"params": params["dynamics"]}, method="get_eigenvalues"))


def koopman_module(config, features, varying=False, fitted=False, banked=False):
    """A BatchedKoopmanString as config sizes it: apply({"params": p}, first frames (B, W, C), T) ->
    (B, T, W, C). From a frequency bank (`banked`, config.bank), config.bank + 1 states per mode of
    bank_modes(config); Koopman_var's dynamics are LRU's with a PolarGain."""
    d_hidden = bank_modes(config) * (config.bank + 1) if banked and config.bank else config.model_size
    return BatchedKoopmanString(
        d_hidden=d_hidden,
        dynamics="lru" if varying else config.dynamics,
        features=features,
        ranges=(config.r_min, config.r_max, config.max_phase),
        varying=varying,
        encoder_hidden=0 if fitted else config.encoder_hidden,
        pitch=varying and config.pitch,
    )


def random_start(model, frames, config, seed, fits=None):
    """A model's own initialisers from `seed`: (module, parameters, 0 seconds)."""
    params = model.init(jax.random.key(seed), jnp.asarray(frames[:1, 0], jnp.float32), 2, None)["params"]
    return model, params, 0.0


def cached_fit(frames, config, fits, delays):
    """(lam, encoder, decoder) of the DMD fit of frames (N, T, W, C) with `delays` frames stacked and
    config.model_size states, and the seconds it took: fitted once per run, cached in `fits`."""
    if delays not in fits:
        tic = time.perf_counter()
        fit = dmd_parameters(rearrange(frames, "b t w c -> b t (w c)"), config.model_size, delays)
        fits[delays] = fit, time.perf_counter() - tic
    return fits[delays]


def inside_unit_circle(lam):
    """λ with |λ| capped at exp(−2·LRU_CLIP): DMD of nonlinear data can return |λ| ≥ 1 (a mode that
    seems to grow); the models hold |λ| < 1."""
    radius = np.exp(-2 * rec.LRU_CLIP)
    return np.where(np.abs(lam) > radius, lam / np.abs(lam) * radius, lam)


def dmd_start(model, frames, config, seed, fits, init, delays, bank=0):
    """A modal model's start: its own initialisers, then, as `init` says, the eigenvalues of the DMD
    fit of frames (N, T, W, C) with `delays` frames stacked (dmd_eigs), or also its encoder and
    decoder (dmd); with `bank` copies, a frequency bank of the fit. Koopman_var's gain starts at
    exactly 1 (PolarGain), so it starts as the linear model it modulates.

    `fits` caches the fits by delays for the models of a run: (module, parameters, seconds of the fit)."""
    model, params, _ = random_start(model, frames, config, seed)
    if init == "random":
        return model, params, 0.0
    (lam, encoder, decoder), seconds = cached_fit(frames, config, fits, delays)
    if bank:
        lam, encoder, decoder = frequency_bank(
            (lam, encoder, decoder), bank_modes(config), bank, config.bank_step
        )
    params = jax.tree.map(np.asarray, params)
    lam = inside_unit_circle(lam)
    dynamics = make_dynamics(model.dynamics, model.d_hidden, model.ranges)
    _, new = dynamics.apply({"params": params["dynamics"]}, lam, method="set_eigenvalues", mutable=["params"])
    params = {**params, "dynamics": new["params"]}
    if init == "dmd":
        params["encoder"] = {
            "kernel": np.concatenate([encoder.real, encoder.imag]).T,
            "bias": 0 * params["encoder"]["bias"],
        }
        params["decoder"] = {
            "kernel": np.concatenate([decoder.real, -decoder.imag], 1).T,
            "bias": 0 * params["decoder"]["bias"],
        }
    return model, jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params), seconds


def koopman_delays(config):
    """Frames a trained modal model's DMD start stacks: two (Hankel DMD) when it sees u alone, since a
    one-step map of displacements cannot be exact (a string's state is u and v); else one."""
    return 2 if config.channels == "u" else 1


def start_dmd(model, frames, config, seed, fits):
    """DMD: the fit with config.dmd_delays is the model."""
    return dmd_start(model, frames, config, seed, fits, "dmd", config.dmd_delays)


def start_koopman(model, frames, config, seed, fits):
    """Koopman: config.init, from a frequency bank of config.bank copies if any."""
    return dmd_start(model, frames, config, seed, fits, config.init, koopman_delays(config), config.bank)


def start_koopman_var(model, frames, config, seed, fits):
    """Koopman_var: config.init, then its gain's input scale from the encoded first frames."""
    model, params, seconds = dmd_start(model, frames, config, seed, fits, config.init, koopman_delays(config))
    return with_power_scale(model, params, frames), params, seconds


# The DMD-started GRU's gates: z = σ(−4) ≈ 0.018 of the old state kept, r = σ(4) ≈ 0.98 of it reset
# through; constant (their kernels start at zero) and open enough to learn from.
GRU_GATE_BIAS = 4.0
GRU_DMD_RMS = 1e-3


def start_gru_dmd(model, frames, config, seed, fits):
    """The GRU started as the Hankel DMD fit of frames (N, T, W, C) that Koopman starts from: its lift
    the fit's encoder (Re, Im of x = E u_0, one step back, since a GRU's first output is one step
    after its carry), its readout the fit's decoder (u = Re(Φ x)), and its recurrence linear in the
    small state with the fit's eigenvalues as 2 × 2 rotations. With zero inputs and constant gates z
    and r, h' = (1 − z) tanh(r W h) + z h ≈ ((1 − z) r W + z) h; W is chosen so that this is the
    rotation. `scale` keeps the state at an rms of GRU_DMD_RMS over the training plucks, where
    tanh is linear to about its square, and the lift and readout at the fit's own scale. The
    states beyond the fit's 2D start at zero and stay there until trained."""
    hidden, d_hidden = model.hidden, config.model_size
    if hidden < 2 * d_hidden:
        raise ConfigError(
            f"--gru_hidden={hidden}: the DMD-started GRU holds the fit's {d_hidden} complex states "
            f"(--model_size) as {2 * d_hidden} real ones; expected gru_hidden ≥ {2 * d_hidden}"
        )
    model, params, _ = random_start(model, frames, config, seed)
    (lam, encoder, decoder), seconds = cached_fit(frames, config, fits, koopman_delays(config))
    lam = inside_unit_circle(lam)
    encoder = encoder / lam[:, None]
    x0 = rearrange(frames[:, 0], "b w c -> b (w c)") @ encoder.T
    if not np.any(x0):
        raise ConfigError(
            "gru_dmd: the training plucks' DMD fit encodes no first frame: nothing to start from"
        )
    model = model.clone(scale=float(GRU_DMD_RMS / np.sqrt(np.mean(np.abs(x0) ** 2) / 2)))
    rows = np.arange(d_hidden)
    rotation = np.zeros((hidden, hidden))  # h' = h @ rotation, h = [Re x, Im x, 0...]
    rotation[rows, rows] = rotation[rows + d_hidden, rows + d_hidden] = lam.real
    rotation[rows, rows + d_hidden], rotation[rows + d_hidden, rows] = lam.imag, -lam.imag
    z, r = 1 / (1 + np.exp(GRU_GATE_BIAS)), 1 / (1 + np.exp(-GRU_GATE_BIAS))
    cell = jax.tree.map(np.zeros_like, params["rnn"]["first_layer"]["cell"])
    cell["hn"]["kernel"] = (rotation - z * np.eye(hidden)) / ((1 - z) * r)
    cell["ir"]["bias"] = np.full(hidden, GRU_GATE_BIAS)
    cell["iz"]["bias"] = np.full(hidden, -GRU_GATE_BIAS)
    lift = np.zeros((frames.shape[2] * frames.shape[3], hidden))
    lift[:, :d_hidden], lift[:, d_hidden : 2 * d_hidden] = encoder.real.T, encoder.imag.T
    readout = np.zeros((hidden, lift.shape[0]))
    readout[:d_hidden], readout[d_hidden : 2 * d_hidden] = decoder.real.T, -decoder.imag.T
    params = {
        **params,
        "lift": {"kernel": lift, "bias": np.zeros(hidden)},
        "readout": {"kernel": readout, "bias": np.zeros(lift.shape[0])},
        "rnn": {**params["rnn"], "first_layer": {"cell": cell}},
    }
    return model, jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params), seconds


def koopman_var_recipe(config):
    """Koopman_var's rates, steps, slope weight and restarts, where its own fields give them."""
    return dict(
        lr=config.lr_var or config.lr,
        lr_dynamics=config.lr_dynamics_var or config.lr_dynamics,
        steps=config.steps_var or config.steps,
        slope=config.slope if config.slope_var < 0 else config.slope_var,
        restarts=config.restarts_var or config.restarts,
    )


def gru_recipe(config):
    """The GRU's steps, rate and first window, every frame scored (it computes them all), no latent
    or slope loss. Windows start at the release: from u alone a later frame's velocity is unknown."""
    return dict(
        steps=config.gru_steps,
        lr=config.gru_lr,
        window=config.gru_window,
        anchor=True,
        latent=0.0,
        slope=0.0,
        loss_frames=0,
    )


def gru_dmd_recipe(config):
    """The DMD-started GRU's: whole trajectories from the release, every frame scored, its cell (the
    recurrence, module "rnn") at gru_dmd_lr_recurrent and the rest at gru_dmd_lr."""
    return dict(
        gru_recipe(config),
        steps=config.gru_dmd_steps,
        lr=config.gru_dmd_lr,
        lr_dynamics=config.gru_dmd_lr_recurrent,
        recurrent_modules=("rnn",),
        window=0,
    )


def ssm_recipe(config):
    """The LRU's and S5's recipe, in the paper's form: AdamW at ssm_lr with weight decay 1e-4, the
    recurrent parameters without: the eigenvalues' (ssm.EIGENVALUE_PARAMS) at ssm_lr_recurrent (0:
    ssm_lr / 4, the paper's), B and C (ssm.IO_PARAMS) at ssm_lr_io (0: the eigenvalues' rate, the
    paper's); clip 1; every frame scored, no latent or slope loss; windows from ssm_window, at the
    release as the GRU's."""
    lr_recurrent = config.ssm_lr_recurrent or config.ssm_lr / 4
    return dict(
        steps=config.ssm_steps,
        lr=config.ssm_lr,
        lr_dynamics=lr_recurrent,
        lr_io=config.ssm_lr_io,
        weight_decay=1e-4,
        clip=1.0,
        window=config.ssm_window,
        anchor=True,
        latent=0.0,
        slope=0.0,
        loss_frames=0,
    )


def ssm_module(config, features, layer):
    """The paper's deep LRU or S5 (ssm.SSMString) as config sizes it."""
    layers = config.lru_layers if layer == "lru" else config.s5_layers
    if layer == "s5" and (config.ssm_states % config.s5_blocks or config.ssm_states // config.s5_blocks % 2):
        raise ConfigError(
            f"--ssm_states={config.ssm_states} --s5_blocks={config.s5_blocks}: expected blocks of an "
            "even number of states (conjugate pairs)"
        )
    return ssm.SSMString(
        layer, layers - 1, config.ssm_states, features, glu=layer == "lru", blocks=config.s5_blocks
    )


@dataclasses.dataclass(frozen=True)
class ModelKind:
    """Everything the examples know of a model, read wherever they treat models differently: the
    loop, checkpoints, shifts, audio and the tables read these fields, never a model's name. Adding
    a model is one entry of MODELS and its module."""

    label: str  # its row in the tables
    build: Callable  # (config, F) -> module: apply({"params": p}, first (B, W, C), T, times) -> (B, T, W, C)
    start: Callable = random_start  # (module, train frames, config, seed, fits) -> (module, params, seconds)
    recipe: Callable = lambda config: {}  # (config) -> its recipe's fields that are not the configuration's
    seeds: Callable = operator.attrgetter("seeds")  # (config) -> how many seeds a run trains
    fitted: bool = False  # a least-squares fit (DMD): no gradient step
    saved: tuple = ()  # module fields its start sets (not the configuration), kept in checkpoints
    eigenvalues: Callable | None = None  # (params, module) -> λ (D,) of a modal model
    streams: bool = False  # synthesises one grid point in blocks (KoopmanString.start, synthesise_block)
    table_flags: tuple = ()  # flags its cells of the paper's table are made with, beside the column's
    paper_size: tuple = ()  # (field, value) pairs of the configuration at the paper's size and recipe


MODELS = {
    "dmd": ModelKind(  # the data check: least squares, no gradient step
        "DMD",
        lambda config, features: koopman_module(config, features, fitted=True),
        start_dmd,
        seeds=lambda config: 1,
        fitted=True,
        eigenvalues=eigenvalues_of,
        streams=True,
        table_flags=("--channels=uv",),
    ),
    "koopman": ModelKind(
        "Koopman",
        lambda config, features: koopman_module(config, features, banked=True),
        start_koopman,
        eigenvalues=eigenvalues_of,
        streams=True,
    ),
    "koopman_var": ModelKind(
        "Koopman_var",
        lambda config, features: koopman_module(config, features, varying=True),
        start_koopman_var,
        koopman_var_recipe,
        saved=("power_scale",),
        eigenvalues=eigenvalues_of,
        streams=True,
    ),
    "lru": ModelKind(
        "LRU",
        lambda config, features: ssm_module(config, features, "lru"),
        recipe=ssm_recipe,
        paper_size=tuple(PAPER_SSM.items()),
    ),
    "s5": ModelKind(
        "S5",
        lambda config, features: ssm_module(config, features, "s5"),
        recipe=ssm_recipe,
        paper_size=tuple(PAPER_SSM.items()),
    ),
    "gru": ModelKind(
        "GRU",
        lambda config, features: GRUString(config.gru_hidden),
        recipe=gru_recipe,
        seeds=operator.attrgetter("gru_seeds"),
    ),
    "gru_dmd": ModelKind(
        "GRU from DMD",
        lambda config, features: GRUString(config.gru_hidden),
        start_gru_dmd,
        gru_dmd_recipe,
        seeds=operator.attrgetter("gru_seeds"),
        saved=("scale",),
    ),
}
