"""Recurrent models of vibrating strings and membranes: learned modal dynamics and a deep RNN.

A modal model advances a complex state by a diagonal linear map,

    x_{k+1} = diag(λ) x_k,   so   x_k = λ^k ⊙ x_0,

with learned eigenvalues λ held as real parameters in one of three forms: log-polar as in the
LRU ("Resurrecting Recurrent Neural Networks for Long Sequences", Orvieto et al. 2023),
real/imaginary pairs, or magnitude/angle. The Varying forms multiply the linear rollout by a
complex gain computed by a model of |x|². `DeepRNN` is the GRU/LSTM baseline. The models follow
"Towards Efficient Modelling of String Dynamics: A Comparison of State Space and Koopman based
Deep Learning Methods" (DAFx 2024).

Contract of every modal class, with λ = get_eigenvalues():

    module(x0, T)[k] == λ**(k + s) * x0,   s = 0 if prepend_ones else 1,

so the eigenvalues a user reads are exactly those the rollout uses; `set_eigenvalues(λ)` then
`get_eigenvalues()` returns λ for every λ the parameterisation can represent, and raises a
ValueError naming the entries it cannot. Complex dtypes follow the real parameters
(`param_dtype`): float32 -> complex64, float64 (with jax_enable_x64) -> complex128.
Every JAX differentiation transform composes with every model (grad, jvp, jacfwd, jacrev, hessian,
linearize), to any order: the rollout's tangent rule is written so that its transpose reads the
cotangent once. The exception is clip=True on the discrete forms: magic_clamp's gradient depends
on the cotangent's sign, so it has reverse mode only.

Notation:
    T  time steps (n_steps)          D  complex state size (d_hidden)
    B  batch                         W  grid points (d_model), C state variables (d_vars)
"""

import dataclasses
import math
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from einops import rearrange
from jax.typing import ArrayLike

from clamp import magic_clamp

LRU_CLIP = 1e-5  # with clip_eigs, LRUDynamics keeps |λ| ≤ exp(-LRU_CLIP)
MIN_RADIUS = 1e-8  # with clip, |λ| is clamped to [MIN_RADIUS, 1]
# XLA on CPU splits a sum over an axis longer than this into an unfused multiply and a reduce-window.
CPU_SUM_LIMIT = 32


# ----------------------------------------------------------------------------- initialisers


def matrix_init(key, shape, dtype=jnp.float32, normalization=1):
    """Standard normal entries divided by `normalization` (e.g. sqrt(fan_in))."""
    return jax.random.normal(key, shape, dtype) / normalization


def nu_init(key, shape, r_min, r_max, dtype=jnp.float32):
    """log ν such that |λ| = exp(-ν) is uniform on the ring r_min ≤ |λ| ≤ r_max (LRU, Lemma 3.2)."""
    u = jax.random.uniform(key, shape, dtype)
    return jnp.log(-0.5 * jnp.log(u * (r_max**2 - r_min**2) + r_min**2))


def theta_init(key, shape, max_phase, dtype=jnp.float32):
    """log θ such that the phase θ = arg λ is uniform in [0, max_phase)."""
    u = jax.random.uniform(key, shape, dtype)
    return jnp.log(max_phase * u)


def gamma_log_init(key, lamb):
    """log γ, the LRU input normalisation γ = sqrt(1 - |λ|²), for lamb = (nu_log, theta_log)."""
    del key  # deterministic; the key keeps the flax initialiser signature
    nu_log, _ = lamb
    # |λ|² = exp(-2ν); expm1 keeps 1 - |λ|² accurate as |λ| -> 1.
    return 0.5 * jnp.log(-jnp.expm1(-2 * jnp.exp(nu_log)))


def uniform_init(key, shape, minval, maxval, dtype=jnp.float32):
    """Uniform in [minval, maxval)."""
    return jax.random.uniform(key, shape, dtype, minval, maxval)


def _polar_sample(key, shape, r_min, r_max, min_phase, max_phase, dtype):
    key_radius, key_phase = jax.random.split(key)
    radius = uniform_init(key_radius, shape, r_min, r_max, dtype)
    phase = uniform_init(key_phase, shape, min_phase, max_phase, dtype)
    return radius, phase


def init_complex(r_min=0.0, r_max=1.0, min_phase=0.0, max_phase=2 * jnp.pi, dtype=jnp.float32):
    """Initialiser of complex values: radius uniform in [r_min, r_max), phase in [min_phase, max_phase)."""

    def init(key, shape, dtype=dtype):
        radius, phase = _polar_sample(key, shape, r_min, r_max, min_phase, max_phase, dtype)
        return radius * jnp.exp(1j * phase)

    return init


def init_real_imag(r_min=0.0, r_max=1.0, min_phase=0.0, max_phase=2 * jnp.pi, dtype=jnp.float32):
    """As init_complex, returned as real numbers with a trailing (real, imag) axis: (*shape, 2)."""

    def init(key, shape, dtype=dtype):
        radius, phase = _polar_sample(key, shape, r_min, r_max, min_phase, max_phase, dtype)
        return jnp.stack([radius * jnp.cos(phase), radius * jnp.sin(phase)], axis=-1)

    return init


# ----------------------------------------------------------------------------- eigenvalue helpers


def ensure_positive_imaginary_parts(x):
    """x with every entry whose imaginary part is negative replaced by its conjugate."""
    return jnp.where(x.imag < 0, jnp.conj(x), x)


def multiply_eigenvalues(eigs, angle_factor, radius_factor):
    """Scale pitch and decay of discrete eigenvalues: angle × angle_factor, radius ** radius_factor."""
    return jnp.abs(eigs) ** radius_factor * jnp.exp(1j * angle_factor * jnp.angle(eigs))


def constrain_to_unit_circle(z, r_min=MIN_RADIUS, r_max=1.0):
    """z with its magnitude clamped to [r_min, r_max] and its angle kept.

    Entries already inside are returned bit for bit. The magnitude goes through magic_clamp, so a
    gradient step can still pull an eigenvalue from outside back in. z = 0 maps to r_min (angle 0)
    with finite value and gradient.
    """
    squared = z.real**2 + z.imag**2
    nonzero = squared > 0
    # Double `where`: sqrt and division only ever see nonzero inputs, so gradients stay finite at 0.
    magnitude = jnp.sqrt(jnp.where(nonzero, squared, 1))
    direction = jnp.where(nonzero, z / magnitude, 1)
    clamped = magic_clamp(jnp.where(nonzero, magnitude, 0), r_min, r_max) * direction
    inside = nonzero & (magnitude >= r_min) & (magnitude <= r_max)
    return jnp.where(inside, z, clamped)


def _powers(base, start, length):
    """start ⊙ base**j for j = 0 .. length-1: (length, D). On a CPU a sequential scan, the faster and
    the more accurate there; on other backends a parallel prefix product, since a loop of `length`
    steps costs `length` kernel launches on a GPU (README, Performance)."""
    return jax.lax.platform_dependent(
        cpu=lambda: _powers_sequential(base, start, length),
        default=lambda: _powers_prefix(base, start, length),
    )


def _powers_sequential(base, start, length):
    def step(power, _):
        return power * base, power

    return jax.lax.scan(step, start, length=length, unroll=4)[1]


def _powers_prefix(base, start, length):
    factors = jnp.concatenate([start[None], jnp.broadcast_to(base, (length - 1, *base.shape))])
    return jax.lax.associative_scan(jnp.multiply, factors)


def _chunks(n_steps):
    """(M1, M2, L): T ≤ M1·M2·L, L ≈ √T, M2 ≤ CPU_SUM_LIMIT.

    The backward sums over the M = M1·M2 chunks; split in two axes of at most CPU_SUM_LIMIT, that
    sum stays one fused loop on CPU (see CPU_SUM_LIMIT).
    """
    root = math.isqrt(max(n_steps - 1, 0)) + 1
    m2 = min(root, CPU_SUM_LIMIT)
    m1 = -(-root // m2)
    return m1, m2, max(-(-n_steps // (m1 * m2)), 1)


def _factors(eigenvalues, n_steps, offset):
    """outer (M, D) = λ^(mL + offset) and inner (L, D) = λ^l, with L ≈ √T and M·L ≥ T."""
    m1, m2, chunk = _chunks(n_steps)
    inner = _powers(eigenvalues, jnp.ones_like(eigenvalues), chunk)
    first = eigenvalues if offset else jnp.ones_like(eigenvalues)
    return _powers(inner[-1] * eigenvalues, first, m1 * m2), inner


def modal_rollout(eigenvalues, x0, n_steps, offset):
    """Rows λ**(k + offset) ⊙ x0 for k = 0 .. n_steps-1: (T, D), from λ (D,) and x0 (D,).

    Differentiable in every mode and to any order (grad, jvp, jacfwd, jacrev, hessian, linearize).
    """
    steps = _check_steps(n_steps)
    if isinstance(offset, bool) or offset not in (0, 1):
        raise ValueError(f"offset={offset!r}: expected 0 (row 0 is x0) or 1 (row 0 is λ x0)")
    dtype = jnp.result_type(eigenvalues, x0, jnp.complex64)
    return _rollout(jnp.asarray(eigenvalues, dtype), jnp.asarray(x0, dtype), steps, offset)


def rollout_factors(eigenvalues, n_steps, offset):
    """The factors modal_rollout builds its rows from: outer (M, D) and inner (L, D), row k =
    outer[k // L] · inner[k % L] · x0. With rollout_block, for streaming."""
    dtype = jnp.result_type(eigenvalues, jnp.complex64)
    return _factors(jnp.asarray(eigenvalues, dtype), _check_steps(n_steps), offset)


def rollout_block(factors, x0, start, length):
    """Rows start .. start+length-1 of the rollout whose rollout_factors are `factors`: (length, D).

    For streaming (an audio callback asking for blocks): computed from the whole rollout's factors,
    a stream of blocks equals the one-shot rollout, where a state λ^k x0 carried from block to block
    would round once per block; the state carried is (x0, start). `start` may be traced.
    """
    outer, inner = factors
    k = start + jnp.arange(length)
    return outer[k // inner.shape[0]] * inner[k % inner.shape[0]] * x0


# λ^(mL + l) = λ^(mL) λ^l, L ≈ √T: powers of √T rows each and one fused outer product write the output once
# at memory speed on any backend. The tangent rule is written so that JAX's transpose of it, the
# backward of reverse mode, reads the cotangent once (_rollout_jvp).
@partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _rollout(eigenvalues, x0, n_steps, offset):
    return _expand(*_factors(eigenvalues, n_steps, offset), x0, n_steps)


def _expand(outer, inner, x0, n_steps):
    grid = outer[:, None, :] * inner[None, :, :]  # (M, L, D)
    return rearrange(grid, "m l d -> (m l) d")[:n_steps] * x0


@_rollout.defjvp
def _rollout_jvp(n_steps, offset, primals, tangents):
    """With P_k = λ^(k + offset) = outer_m inner_l (k = mL + l), the tangent is
    P_k dx0 + P'_k x0 dλ = Σ_j F[m, j] G[l, j]: F = (outer, outer'), G = (inner dx0 + inner' x0 dλ,
    inner x0 dλ). Its transpose is one sum over m of F ⊙ cotangent: one read of the cotangent."""
    eigenvalues, x0 = primals
    d_eigenvalues, d_x0 = tangents
    (outer, inner), (d_outer, d_inner) = jax.jvp(
        lambda lam: _factors(lam, n_steps, offset), (eigenvalues,), (jnp.ones_like(eigenvalues),)
    )
    m1, m2, _ = _chunks(n_steps)
    f = rearrange(jnp.stack([outer, d_outer], axis=-1), "(a b) d j -> a b 1 d j", a=m1, b=m2)
    drift = x0 * d_eigenvalues
    g = jnp.stack([inner * d_x0 + d_inner * drift, inner * drift], axis=-1)  # (L, D, 2)
    tangent = jnp.sum(f * g, axis=-1)  # (M1, M2, L, D)
    return _expand(outer, inner, x0, n_steps), rearrange(tangent, "a b l d -> (a b l) d")[:n_steps]


# ----------------------------------------------------------------------------- argument checks


def _check_positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r}: expected an int ≥ {minimum}")


def _check_steps(n_steps):
    try:
        steps = operator.index(n_steps)
    except TypeError:
        raise TypeError(
            f"n_steps={n_steps!r}: expected a Python int (pass it as a static argument under jax.jit)"
        ) from None
    if isinstance(n_steps, bool) or steps < 0:
        raise ValueError(f"n_steps={n_steps!r}: expected an int ≥ 0")
    return steps


def _concrete(x):
    """x as a NumPy array, or None while x is traced (its values are unknown until it runs)."""
    try:
        return np.asarray(x)
    except jax.errors.TracerArrayConversionError:
        return None


# ----------------------------------------------------------------------------- modal dynamics


class BaseModalDynamics(nn.Module, ABC):
    """Diagonal complex linear dynamics. Subclasses declare parameters and get/set_eigenvalues.

    The rollout is written once, here, from get_eigenvalues(): the contract of the module
    docstring holds for every subclass by construction.
    """

    d_hidden: int  # D, complex state size
    prepend_ones: bool  # True: row 0 of the rollout is x0 itself (s = 0); False: λ x0 (s = 1)
    param_dtype: Any = dataclasses.field(default=jnp.float32, kw_only=True)  # real parameter dtype

    def setup(self):
        _check_positive_int("d_hidden", self.d_hidden)

    @abstractmethod
    def get_eigenvalues(self) -> jax.Array:
        """λ: (D,) complex, exactly as the rollout uses them."""

    @abstractmethod
    def set_eigenvalues(self, eigenvalues: ArrayLike) -> None:
        """Write the parameters so that get_eigenvalues() returns `eigenvalues` (D,).

        Call through `apply(variables, λ, method="set_eigenvalues", mutable=["params"])`.
        """

    def __call__(self, x, n_steps):
        """Roll out from x0 = x.

        x: (D,) initial state, complex or real; (1, D) is accepted as (D,) like the spec's cells.
        n_steps: T ≥ 0, a Python int (static under jit); T = 0 gives a (0, D) array.
        Returns (T, D) complex, row k = λ**(k + s) * x0, in the complex dtype of x and λ promoted.
        """
        x0 = jnp.asarray(x)
        if x0.ndim == 2 and x0.shape[0] == 1:
            x0 = x0[0]
        if x0.shape != (self.d_hidden,):
            raise ValueError(
                f"x has shape {jnp.shape(x)}: expected (d_hidden,) = ({self.d_hidden},); "
                f"for a batch (B, {self.d_hidden}) use the Batched* classes"
            )
        return modal_rollout(self.get_eigenvalues(), x0, n_steps, 0 if self.prepend_ones else 1)

    def scale_dynamics(self, angle_factor, radius_factor):
        """Rescale pitch (angle × angle_factor) and decay (radius ** radius_factor) in place.

        Returns the new eigenvalues; call with mutable=["params"] like set_eigenvalues.
        """
        self.set_eigenvalues(multiply_eigenvalues(self.get_eigenvalues(), angle_factor, radius_factor))
        return self.get_eigenvalues()

    def _read(self, name):
        """A parameter as it is now: values written by set_eigenvalues are seen in the same call."""
        return self.get_variable("params", name)

    def _as_eigenvalues(self, eigenvalues):
        """eigenvalues as a (D,) complex array in the parameters' precision."""
        values = jnp.asarray(eigenvalues)
        if values.shape != (self.d_hidden,):
            raise ValueError(
                f"eigenvalues has shape {values.shape}: expected (d_hidden,) = ({self.d_hidden},)"
            )
        return values.astype(jnp.result_type(values, jnp.result_type(self.param_dtype, jnp.complex64)))

    def _check_radius(self, eigenvalues, low, high, expected, open_low=False, open_high=False):
        """Raise a ValueError naming the entries that are not finite in the parameters' precision or
        whose |λ| is outside [low, high] (when concrete; under jit they cannot be checked)."""
        values = _concrete(eigenvalues)
        if values is None:
            return
        radius = np.abs(values.astype(np.complex128))
        slack = np.finfo(self.param_dtype).eps  # one rounding step of the parameters
        below = radius <= low if open_low else radius < low * (1 - slack)
        above = radius >= high if open_high else radius > high * (1 + slack)
        with np.errstate(over="ignore", invalid="ignore"):  # too large for the precision: named below
            stored = values.astype(np.result_type(self.param_dtype, np.complex64))
            finite = np.isfinite(stored) & np.isfinite(np.abs(stored))
        bad = np.flatnonzero(~finite | below | above)
        if bad.size:
            shown = ", ".join(f"[{i}] = {complex(values[i]):.6g} (|λ| = {radius[i]:.6g})" for i in bad[:4])
            more = f" and {bad.size - 4} more" if bad.size > 4 else ""
            raise ValueError(f"eigenvalues{shown}{more}: {type(self).__name__} represents only {expected}")


class LRUDynamics(BaseModalDynamics):
    """λ = exp(-exp(nu_log) + i exp(theta_log)): the LRU's log-polar form, 0 < |λ| < 1, arg λ ∈ [0, π].

    Log-polar parameters keep |λ| < 1 (stable) for any parameter value.
    """

    r_min: float  # smallest initial |λ|, 0 ≤ r_min ≤ r_max
    r_max: float  # largest initial |λ|, ≤ 1
    max_phase: float  # initial arg λ uniform in [0, max_phase), > 0
    clip_eigs: bool  # cap |λ| at exp(-LRU_CLIP), in the rollout and in get_eigenvalues alike

    def setup(self):
        super().setup()
        if not 0 <= self.r_min <= self.r_max <= 1:
            raise ValueError(
                f"r_min={self.r_min!r}, r_max={self.r_max!r}: expected 0 ≤ r_min ≤ r_max ≤ 1 "
                "(the log-polar form holds |λ| < 1)"
            )
        if not self.max_phase > 0:
            raise ValueError(f"max_phase={self.max_phase!r}: expected max_phase > 0")
        shape = (self.d_hidden,)
        self.param("theta_log", partial(theta_init, max_phase=self.max_phase), shape, dtype=self.param_dtype)
        self.param(
            "nu_log", partial(nu_init, r_min=self.r_min, r_max=self.r_max), shape, dtype=self.param_dtype
        )

    def get_eigenvalues(self):
        log_radius = -jnp.exp(self._read("nu_log"))
        if self.clip_eigs:
            log_radius = jnp.minimum(log_radius, -LRU_CLIP)
        return jnp.exp(jax.lax.complex(log_radius, jnp.exp(self._read("theta_log"))))

    def set_eigenvalues(self, eigenvalues):
        """Write λ (D,) into nu_log and theta_log.

        Representable: 0 < |λ| < 1 (≤ exp(-LRU_CLIP) with clip_eigs); others raise a ValueError when
        the values are concrete (under jit they cannot be checked and give NaN parameters).
        The form holds only arg λ ∈ [0, π]: an entry with Im λ < 0 is stored as its conjugate. That
        keeps |λ|, the decay and the frequency, and so Re(λ^k x0) for x0 conjugated alike: a real
        signal read as the real part of the state is unchanged; the imaginary part flips sign.
        """
        values = self._as_eigenvalues(eigenvalues)
        high = math.exp(-LRU_CLIP) if self.clip_eigs else 1.0
        self._check_radius(
            values,
            0.0,
            high,
            f"0 < |λ| {'≤ exp(-LRU_CLIP)' if self.clip_eigs else '< 1'}",
            open_low=True,
            open_high=not self.clip_eigs,
        )
        log_values = ensure_positive_imaginary_parts(jnp.log(values))
        tiny = jnp.finfo(log_values.real.dtype).tiny  # arg λ = 0 stored as a finite log θ
        self.put_variable("params", "nu_log", jnp.log(-log_values.real).astype(self.param_dtype))
        self.put_variable(
            "params", "theta_log", jnp.log(jnp.maximum(log_values.imag, tiny)).astype(self.param_dtype)
        )


class _DiscreteBase(BaseModalDynamics):
    """Fields and checks shared by the real/imaginary and the magnitude/angle forms."""

    clip: bool  # clamp |λ| to [MIN_RADIUS, 1], in the rollout and in get_eigenvalues alike
    r_min: float  # initial |λ| uniform in [r_min, r_max), 0 ≤ r_min ≤ r_max
    r_max: float
    min_phase: float  # initial arg λ uniform in [min_phase, max_phase)
    max_phase: float

    def setup(self):
        super().setup()
        if not 0 <= self.r_min <= self.r_max:
            raise ValueError(f"r_min={self.r_min!r}, r_max={self.r_max!r}: expected 0 ≤ r_min ≤ r_max")
        if not self.min_phase <= self.max_phase:
            raise ValueError(
                f"min_phase={self.min_phase!r}, max_phase={self.max_phase!r}: expected min_phase ≤ max_phase"
            )

    def _as_representable(self, eigenvalues):
        """Any finite λ is representable without clip; MIN_RADIUS ≤ |λ| ≤ 1 with clip."""
        values = self._as_eigenvalues(eigenvalues)
        if self.clip:
            self._check_radius(values, MIN_RADIUS, 1.0, "MIN_RADIUS ≤ |λ| ≤ 1 with clip=True")
        else:
            self._check_radius(values, 0.0, np.inf, "finite λ")
        return values


class DiscreteModalDynamics(_DiscreteBase):
    """λ = real_imag[:, 0] + i real_imag[:, 1]; clip by constrain_to_unit_circle (angle kept)."""

    def setup(self):
        super().setup()
        init = init_real_imag(self.r_min, self.r_max, self.min_phase, self.max_phase)
        self.param("real_imag", init, (self.d_hidden,), dtype=self.param_dtype)

    def get_eigenvalues(self):
        real_imag = self._read("real_imag")
        eigenvalues = jax.lax.complex(real_imag[..., 0], real_imag[..., 1])
        return constrain_to_unit_circle(eigenvalues) if self.clip else eigenvalues

    def set_eigenvalues(self, eigenvalues):
        values = self._as_representable(eigenvalues)
        real_imag = jnp.stack([values.real, values.imag], axis=-1)
        self.put_variable("params", "real_imag", real_imag.astype(self.param_dtype))


class DiscreteModalDynamicsAngleMag(_DiscreteBase):
    """λ = magnitudes · exp(i angles); clip by magic_clamp on the magnitudes."""

    def setup(self):
        super().setup()
        angles = partial(uniform_init, minval=self.min_phase, maxval=self.max_phase)
        magnitudes = partial(uniform_init, minval=self.r_min, maxval=self.r_max)
        self.param("angles", angles, (self.d_hidden,), dtype=self.param_dtype)
        self.param("magnitudes", magnitudes, (self.d_hidden,), dtype=self.param_dtype)

    def get_eigenvalues(self):
        magnitudes, angles = self._read("magnitudes"), self._read("angles")
        if self.clip:
            magnitudes = magic_clamp(magnitudes, MIN_RADIUS, 1.0)
        return jax.lax.complex(magnitudes * jnp.cos(angles), magnitudes * jnp.sin(angles))

    def set_eigenvalues(self, eigenvalues):
        values = self._as_representable(eigenvalues)
        self.put_variable("params", "angles", jnp.angle(values).astype(self.param_dtype))
        self.put_variable("params", "magnitudes", jnp.abs(values).astype(self.param_dtype))


def modulate(model, x, d_hidden):
    """x ⊙ (a + i b) with (a, b) = model(|x|²) split in halves: (T, D) -> (T, D).

    `model` maps (T, D) real features to (T, 2D): the real and imaginary parts of the gain.
    """
    features = model(x.real**2 + x.imag**2)  # (T, 2D)
    if features.shape[-1] != 2 * d_hidden:
        raise ValueError(
            f"model outputs {features.shape[-1]} features: expected 2*d_hidden = {2 * d_hidden} "
            f"(real and imaginary parts of the gain), e.g. MLP([..., {2 * d_hidden}])"
        )
    real, imag = jnp.split(features, 2, axis=-1)
    return x * jax.lax.complex(real, imag)


class LRUDynamicsVarying(LRUDynamics):
    """LRUDynamics whose rollout x is multiplied by a complex gain from model(|x|²)."""

    model: nn.Module  # (T, D) real -> (T, 2D) real, e.g. MLP([64, 64, 2 * d_hidden])

    def __call__(self, x, n_steps):
        """x: (D,) -> (T, D) complex: modulate(model, rollout, d_hidden)."""
        return modulate(self.model, super().__call__(x, n_steps), self.d_hidden)


class DiscreteModalDynamicsVarying(DiscreteModalDynamics):
    """DiscreteModalDynamics whose rollout x is multiplied by a complex gain from model(|x|²)."""

    model: nn.Module  # (T, D) real -> (T, 2D) real, e.g. MLP([64, 64, 2 * d_hidden])

    def __call__(self, x, n_steps):
        """x: (D,) -> (T, D) complex: modulate(model, rollout, d_hidden)."""
        return modulate(self.model, super().__call__(x, n_steps), self.d_hidden)


# ----------------------------------------------------------------------------- deep RNN baseline


class DeepRNN(nn.Module):
    """Stacked flax RNN layers over flattened (W, C) frames, W·C features each; works with every
    flax cell of signature cell(features=...) (GRUCell, LSTMCell, OptimizedLSTMCell, MGUCell,
    SimpleCell).

    The first layer starts from x0; the n_layers after it start from zeros (as in the spec:
    n_layers + 1 layers in all).
    """

    d_model: int  # W, grid points
    d_vars: int  # C, state variables per grid point
    n_layers: int  # layers after the first, ≥ 0
    cell: Callable[..., nn.RNNCellBase]  # cell class or partial, e.g. nn.GRUCell
    training: bool = True  # unused, as in the spec; kept so configs written for the spec load
    norm: str = "layer"  # unused, as in the spec (no normalisation layer); kept for the same reason

    def setup(self):
        _check_positive_int("d_model", self.d_model)
        _check_positive_int("d_vars", self.d_vars)
        _check_positive_int("n_layers", self.n_layers, minimum=0)
        features = self.d_model * self.d_vars
        self.first_layer = nn.RNN(self.cell(features=features))
        self.layers = [nn.RNN(self.cell(features=features)) for _ in range(self.n_layers)]

    def __call__(self, x0, x):
        """x0: (W, C) initial state; x: (T, W, C) inputs. Returns (T, W, C).

        How x0 seeds the first layer's carry: a one-array carry (GRU, MGU, Simple) is x0 flattened.
        For an LSTM, whose carry is (c, h), x0 is the hidden state h with cell state c = 0; pass a
        pair (c0, h0) of (W, C) arrays to set both.
        """
        frame = (self.d_model, self.d_vars)
        if jnp.ndim(x) != 3 or jnp.shape(x)[1:] != frame:
            raise ValueError(
                f"x has shape {jnp.shape(x)}: expected (T, d_model, d_vars) = (T, {frame[0]}, {frame[1]})"
            )
        for leaf in jax.tree.leaves(x0):
            if jnp.shape(leaf) != frame:
                raise ValueError(f"x0 has shape {jnp.shape(leaf)}: expected (d_model, d_vars) = {frame}")
        carry = jax.tree.map(lambda a: rearrange(a, "w c -> (w c)"), x0)
        template = self.first_layer.cell.initialize_carry(jax.random.key(0), (self.d_model * self.d_vars,))
        if isinstance(template, tuple) and not isinstance(carry, tuple):
            carry = (*map(jnp.zeros_like, template[:-1]), carry)  # x0 is h; (c, h) is flax's order
        if jax.tree.structure(carry) != jax.tree.structure(template):
            raise ValueError(
                f"x0 has {len(jax.tree.leaves(x0))} array(s): the cell's carry has "
                f"{len(jax.tree.leaves(template))}; give one (W, C) array or a tuple like the carry"
            )
        # The cell computes in its own dtype (its param_dtype): inputs and carry are cast to it.
        carry = jax.tree.map(lambda a, t: a.astype(t.dtype), carry, template)
        inputs = rearrange(x, "t w c -> t (w c)").astype(jax.tree.leaves(template)[0].dtype)
        y = self.first_layer(inputs, initial_carry=carry)
        for layer in self.layers:
            y = layer(y)
        return rearrange(y, "t (w c) -> t w c", w=self.d_model, c=self.d_vars)


# ----------------------------------------------------------------------------- batched forms


def _batched(module, in_axes):
    """`module` vmapped over a leading batch axis B of its array inputs, parameters shared."""
    return nn.vmap(
        module,
        in_axes=in_axes,
        out_axes=0,
        variable_axes={"params": None},
        split_rngs={"params": False},
        axis_name="batch",
    )


# Modal forms: x0 (B, D), n_steps -> (B, T, D); parameters shared, eigenvalues computed once.
BatchedLRUDynamics = _batched(LRUDynamics, (0, None))
BatchedLRUDynamicsVarying = _batched(LRUDynamicsVarying, (0, None))
BatchedDiscreteModalDynamics = _batched(DiscreteModalDynamics, (0, None))
BatchedDiscreteModalDynamicsVarying = _batched(DiscreteModalDynamicsVarying, (0, None))
BatchedDiscreteModalDynamicsAngleMag = _batched(DiscreteModalDynamicsAngleMag, (0, None))
# DeepRNN: x0 (B, W, C), x (B, T, W, C) -> (B, T, W, C).
BatchedDeepRNN = _batched(DeepRNN, 0)
