"""The paper's state-space models: a deep LRU and S5, first frames (B, W, C) -> rollouts (B, T, W, C).

As the paper's code ran them (physmodjax `models/ssm.py`, `conf/model/1d_lru.yaml`, `1d_s5.yaml`):
H = W·C features a frame; a one-to-many first layer, h_0 = B̄ u_0, h_t = λ^t h_0, y_t = Re(C h_t),
the modal rollout of the Koopman models with a random start; then each layer

    x <- x + GLU(GELU(SSM(norm(x))))      (LRU; S5 without the GLU)

with a sequence-to-sequence SSM h_t = λ h_{t−1} + B̄ x_t, y_t = Re(C h_t) + D x_t, run as a parallel
(associative) scan, and the GLU Dense(H)(x) · σ(Dense(H)(x)). Row 0 of a rollout is the first
frame's reconstruction, as in the Koopman models.

  lru  λ = exp(−e^ν + i e^θ), |λ| uniform on [r_min, r_max] and arg λ on [0, max_phase) (the seed's
       nu_init, theta_init), B̄ = B · γ with γ = √(1 − |λ|²) learned from its start (gamma_log_init).
  s5   d_states/2 conjugate pairs (y = 2 Re(C h)), Λ from HiPPO-N (the normal part of HiPPO-LegS) in
       `blocks` blocks, discretised by zero-order hold with a learned step per state:
       λ = exp(Λ Δ), B̄ = (λ − 1)/Λ · B̃.

Parameters are float32 by default; with jax_enable_x64 and `param_dtype=jnp.float64` the whole model
runs in float64 / complex128.

One departure: the paper's configurations normalise with BatchNorm over batch × time and keep
training-mode statistics at evaluation (`training: True`), so a rollout depends on the plucks that
share its batch. Here each frame is normalised over its features (LayerNorm, the default of
physmodjax's SequenceLayer): a pluck's rollout is its own.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from einops import rearrange

import recurrent as rec

# The recurrent parameters, which the paper trains at a quarter of the rate and without weight decay:
# those of the eigenvalues (and the LRU's γ), and the input and output matrices B and C, which the
# string example may train at a rate of their own.
EIGENVALUE_PARAMS = {"nu_log", "theta_log", "gamma_log", "Lambda_re", "Lambda_im", "log_step"}
IO_PARAMS = {"B_re", "B_im", "C_re", "C_im", "B", "C"}


def linear_recurrence(lam, inputs):
    """h_t = λ h_{t−1} + inputs_t from h_{−1} = 0, along axis −2 of inputs (..., T, P), λ (P,): an
    associative scan of the pairs (λ, b) under (a, b) ∘ (c, d) = (ac, c b + d), log T deep."""

    def combine(earlier, later):
        return earlier[0] * later[0], later[0] * earlier[1] + later[1]

    powers = jnp.broadcast_to(lam, inputs.shape)
    return jax.lax.associative_scan(combine, (powers, inputs), axis=inputs.ndim - 2)[1]


class DiagonalSSM(nn.Module):
    """A diagonal linear SSM of H features: its `coefficients(H)` -> (λ (P,), B̄ (P, H), C (H, P), D (H,))."""

    def __call__(self, x):
        """(B, T, H) -> (B, T, H): h_t = λ h_{t−1} + B̄ x_t, y_t = Re(C h_t) + D x_t."""
        lam, b, c, d = self.coefficients(x.shape[-1])
        h = linear_recurrence(lam, x.astype(b.dtype) @ b.T)
        return (h @ c.T).real + d * x

    def rollout(self, x0, n_steps):
        """(B, H) -> (B, T, H), one-to-many: h_0 = B̄ x0, h_t = λ^t h_0, y_t = Re(C h_t)."""
        lam, b, c, _ = self.coefficients(x0.shape[-1])
        powers = rec.modal_rollout(lam, jnp.ones_like(lam), n_steps, 0)  # (T, P), shared by the batch
        return ((x0.astype(b.dtype) @ b.T)[:, None] * powers @ c.T).real


class LRULayer(DiagonalSSM):
    """The LRU (Orvieto et al. 2023) of d_hidden complex states."""

    d_hidden: int  # P
    r_min: float = 0.99
    r_max: float = 1.0
    max_phase: float = 2 * np.pi
    param_dtype: jnp.dtype = jnp.float32

    @nn.compact
    def coefficients(self, features):
        dtype = self.param_dtype
        nu_log = self.param("nu_log", rec.nu_init, (self.d_hidden,), self.r_min, self.r_max, dtype)
        theta_log = self.param("theta_log", rec.theta_init, (self.d_hidden,), self.max_phase, dtype)
        gamma_log = self.param("gamma_log", rec.gamma_log_init, (nu_log, theta_log))

        def scaled(normalization):
            return lambda key, shape: rec.matrix_init(key, shape, dtype, normalization)

        b_init, c_init = scaled(np.sqrt(2 * features)), scaled(np.sqrt(self.d_hidden))
        b = jax.lax.complex(*(self.param(n, b_init, (self.d_hidden, features)) for n in ("B_re", "B_im")))
        c = jax.lax.complex(*(self.param(n, c_init, (features, self.d_hidden)) for n in ("C_re", "C_im")))
        d = self.param("D", rec.matrix_init, (features,), dtype)
        lam = jnp.exp(jax.lax.complex(-jnp.exp(nu_log), jnp.exp(theta_log)))
        return lam, b * jnp.exp(gamma_log)[:, None], c, d


def hippo_normal(n):
    """Λ (n,) and V (n, n) of HiPPO-N, the normal part of HiPPO-LegS's normal-plus-low-rank form
    A = S − p pᵀ (Gu et al., S4; S5's initialisation): S = V diag(Λ) V*, Re Λ = −½."""
    p = np.sqrt(1 + 2 * np.arange(n))
    legs = -(np.tril(p[:, None] * p[None, :]) - np.diag(np.arange(n)))
    low_rank = np.sqrt(np.arange(n) + 0.5)
    normal = legs + low_rank[:, None] * low_rank[None, :]
    imag, vectors = np.linalg.eigh(normal * -1j)
    return np.mean(np.diag(normal)) + 1j * imag, vectors


def zoh(lam, b, step):
    """Zero-order hold of x' = Λx + B̃u with u held over a step Δ (P,): (λ = exp(ΛΔ), B̄ = (λ − 1)/Λ · B̃)."""
    lam_bar = jnp.exp(lam * step)
    return lam_bar, ((lam_bar - 1) / lam)[:, None] * b


class S5Layer(DiagonalSSM):
    """S5 (Smith et al. 2023): d_states/2 conjugate pairs, HiPPO-N in `blocks` blocks, zero-order hold."""

    d_states: int = 128  # P: states, as conjugate pairs (P/2 complex states computed)
    blocks: int = 16
    dt_min: float = 1e-4  # the learned step's initial range, log-uniform
    dt_max: float = 0.1
    param_dtype: jnp.dtype = jnp.float32

    @nn.compact
    def coefficients(self, features):
        """λ (P/2,), B̄ (P/2, H), 2C̃ (H, P/2) (y = 2 Re(C̃ h): the conjugate pairs) and D (H,)."""
        dtype = self.param_dtype
        complex_dtype = jnp.result_type(dtype, jnp.complex64)
        size = self.d_states // self.blocks
        lam, vectors = hippo_normal(size)
        lam, vectors = lam[: size // 2], vectors[:, : size // 2]  # one of each conjugate pair
        lam = np.tile(lam, self.blocks)
        v = np.kron(np.eye(self.blocks), vectors)  # block-diagonal (P, P/2)
        half = lam.size

        def b_init(key, shape):  # B̃ = V* B for a lecun-normal B (P, H), as real and imaginary parts
            b = jnp.asarray(v.conj().T, complex_dtype) @ nn.initializers.lecun_normal()(
                key, (v.shape[0], features), dtype
            )
            return jnp.stack([b.real, b.imag], -1)

        def c_init(key, shape):  # C̃ = C V for a lecun-normal complex C (H, P)
            c = nn.initializers.lecun_normal()(key, (features, v.shape[0], 2), dtype)
            c = jax.lax.complex(c[..., 0], c[..., 1]) @ jnp.asarray(v, complex_dtype)
            return jnp.stack([c.real, c.imag], -1)

        def log_step_init(key, shape):
            return jax.random.uniform(key, shape, dtype, np.log(self.dt_min), np.log(self.dt_max))

        lam_re = self.param("Lambda_re", lambda key: jnp.asarray(lam.real, dtype))
        lam_im = self.param("Lambda_im", lambda key: jnp.asarray(lam.imag, dtype))
        b = self.param("B", b_init, (half, features, 2))
        c = self.param("C", c_init, (features, half, 2))
        d = self.param("D", nn.initializers.normal(1.0), (features,), dtype)
        step = jnp.exp(self.param("log_step", log_step_init, (half,)))
        lam_bar, b_bar = zoh(jax.lax.complex(lam_re, lam_im), jax.lax.complex(b[..., 0], b[..., 1]), step)
        return lam_bar, b_bar, 2 * jax.lax.complex(c[..., 0], c[..., 1]), d


class SSMString(nn.Module):
    """The paper's deep SSM: the first layer's one-to-many rollout, then n_layers residual blocks."""

    layer: str  # "lru" or "s5"
    n_layers: int  # sequence layers after the first
    d_states: int  # P of every layer
    features: int  # H = W·C
    glu: bool = True  # the GLU after GELU (the paper's LRU; its S5 has none)
    blocks: int = 16  # S5's HiPPO blocks
    param_dtype: jnp.dtype = jnp.float32

    def setup(self):
        dtype = self.param_dtype

        def make():
            if self.layer == "lru":
                return LRULayer(self.d_states, param_dtype=dtype)
            return S5Layer(self.d_states, self.blocks, param_dtype=dtype)

        self.first = make()
        self.layers = [make() for _ in range(self.n_layers)]
        self.norms = [nn.LayerNorm(param_dtype=dtype) for _ in range(self.n_layers)]
        if self.glu:
            self.values = [nn.Dense(self.features, param_dtype=dtype) for _ in range(self.n_layers)]
            self.gates = [nn.Dense(self.features, param_dtype=dtype) for _ in range(self.n_layers)]

    def __call__(self, first_frames, n_steps, times=None):
        """first_frames (B, W, C) -> (B, T, W, C), or (B, M, W, C) at steps `times` (M,) only."""
        width, channels = first_frames.shape[1:]
        x = self.first.rollout(rearrange(first_frames, "b w c -> b (w c)"), n_steps)
        for i in range(self.n_layers):
            y = nn.gelu(self.layers[i](self.norms[i](x)))
            x = x + (self.values[i](y) * nn.sigmoid(self.gates[i](y)) if self.glu else y)
        x = x if times is None else x[:, times]
        return rearrange(x, "b t (w c) -> b t w c", w=width, c=channels)
