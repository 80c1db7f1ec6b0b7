"""The physics of the string example: a stiff, lossy string, linear or tension-modulated.

Linear (Bilbao, Numerical Sound Synthesis, 2009, ch. 7), fixed at both ends:

    u_tt = c² u_xx − κ² u_xxxx − 2σ0 u_t + 2σ1 u_txx,   0 ≤ x ≤ L.

Its modes are sin(k_n x), k_n = nπ/L, with ω_n² = c² k_n² + κ² k_n⁴ and σ_n = σ0 + σ1 k_n².

Nonlinear (Kirchhoff–Carrier): the tension grows with the string's elongation,
T = T0 + (E A / 2L) ∫ u_x² dx. With u = Σ q_n sin(k_n x), ∫ u_x² dx = (L/2) Σ k_m² q_m², so each
mode gets an extra restoring force

    q̈_n + 2σ_n q̇_n + ω_n² q_n + α k_n² q_n Σ_m k_m² q_m² = 0,   α = E / (4ρ):

every mode's pitch rises with the total amplitude and glides down as the note decays.

Two strings: the paper's nylon B string (NYLON_B, from its authors' FTM parameters) and a steel A2
string (STEEL_A2), whose milder plucks the example used before.

Both are integrated in float64 with the linear part exact (a 2×2 matrix exponential per mode) and
the nonlinear force by Lawson's integrating-factor Runge-Kutta 4 (`substeps` steps per sample);
with α = 0 this is the exact linear solution. Frames are displacement u and velocity v on W grid
points: (T, W, C=2).
"""

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from scipy.integrate import solve_ivp


@dataclasses.dataclass(frozen=True)
class String:
    """A stiff, lossy string: the coefficients of the equation in the module docstring."""

    length: float  # L, m
    wave_speed: float  # c = sqrt(T0 / ρA), m/s
    stiffness: float  # κ = sqrt(E I / ρA), m²/s
    sigma0: float  # σ0, 1/s
    sigma1: float  # σ1, m²/s
    tension_modulation: float  # α = E / 4ρ, m²/s²

    @classmethod
    def from_ftm(cls, area, inertia, density, young, d1, d3, tension, length):
        """From the FTM solver's parameters (Trautmann & Rabenstein): ρA u_tt + E I u_xxxx − T0 u_xx
        + d1 u_t − d3 u_txx = 0, so c² = T0/ρA, κ² = EI/ρA, σ0 = d1/2ρA, σ1 = d3/2ρA; α = E/4ρ."""
        mass = density * area  # ρA, kg/m
        return cls(
            length=length,
            wave_speed=float(np.sqrt(tension / mass)),
            stiffness=float(np.sqrt(young * inertia / mass)),
            sigma0=d1 / (2 * mass),
            sigma1=d3 / (2 * mass),
            tension_modulation=young / (4 * density),
        )


# The paper's string (its authors' FTM solver configuration): a nylon guitar B string, 247 Hz.
NYLON_B = String.from_ftm(
    area=0.5188e-6,
    inertia=0.141e-12,
    density=1140.0,
    young=5.4e9,
    d1=8e-5,
    d3=1.4e-5,
    tension=60.97,
    length=0.65,
)
# A steel string tuned to A2: a 650 mm scale length, textbook E and ρ of steel, a 0.5 mm solid core
# (inharmonicity B = (κπ / cL)² ≈ 4.5e-4); σ0 and σ1 give T60 = 6 ln 10 / σ ≈ 7 s at the fundamental
# and ≈ 1.3 s near 2 kHz. At 0.5–1.5 mm its pitch rises by about 0.2–5 %: milder than the paper's.
STEEL_A2 = String(
    length=0.65,
    wave_speed=2 * 0.65 * 110.0,
    stiffness=float(2.5e-4 / 2 * np.sqrt(2.0e11 / 7850.0)),
    sigma0=1.94,
    sigma1=1.27e-3,
    tension_modulation=2.0e11 / (4 * 7850.0),
)


def string_modes(string, n_modes):
    """Wavenumbers k_n, angular frequencies ω_n and decay rates σ_n of modes n = 1..N."""
    k = np.arange(1, n_modes + 1) * np.pi / string.length
    omega = np.sqrt(string.wave_speed**2 * k**2 + string.stiffness**2 * k**4)
    return k, omega, string.sigma0 + string.sigma1 * k**2


def discrete_eigenvalues(string, n_modes, fs):
    """Exact discretisation of each mode: λ_n = exp((−σ_n + i ω_dn) / fs), ω_dn = sqrt(ω_n² − σ_n²)."""
    _, omega, sigma = string_modes(string, n_modes)
    return np.exp((-sigma + 1j * np.sqrt(omega**2 - sigma**2)) / fs)


def pluck(string, centre, width, n_modes, amplitude=1.0):
    """Modal amplitudes q_n(0) of a Gaussian displacement of peak `amplitude`, projected on sin(k_n x)."""
    x = np.linspace(0, string.length, 4001)
    shape = amplitude * np.exp(-0.5 * ((x - centre) / width) ** 2)
    k, _, _ = string_modes(string, n_modes)
    return 2 / string.length * np.trapezoid(shape * np.sin(np.outer(k, x)), x, axis=1)


def to_frames(string, q, v, n_points):
    """Modal displacements and velocities (..., T, N) -> frames (..., T, W, 2) on W grid points."""
    k, _, _ = string_modes(string, q.shape[-1])
    shapes = np.sin(np.outer(np.linspace(0, string.length, n_points), k))  # (W, N)
    return np.stack([q @ shapes.T, v @ shapes.T], axis=-1)


def simulate(string, q0, n_steps, fs, n_points):
    """Linear string: (T, W, 2) displacement and velocity from modal amplitudes q0 (N,) at rest.

    Steps the real system d/dt (q, q̇) = [[0, 1], [−ω², −2σ]] (q, q̇) of all modes with its exact
    matrix exponential in float64.
    """
    n_modes = q0.size
    _, omega, sigma = string_modes(string, n_modes)
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
    return to_frames(string, states[:, :n_modes], states[:, n_modes:], n_points)


def simulate_modal(string, q0, n_steps, fs, alpha=None, substeps=64, omega=None, sigma=None):
    """Tension-modulated string from rest: modal q and q̇, each (..., T, N), from q0 (..., N).

    `omega` and `sigma` override the string's (for tests: a lossless single mode); `alpha` its
    tension modulation. The integrator is `integrate_modal`.
    """
    k, string_omega, string_sigma = string_modes(string, q0.shape[-1])
    alpha = string.tension_modulation if alpha is None else alpha
    omega = string_omega if omega is None else np.asarray(omega, float)
    sigma = string_sigma if sigma is None else np.asarray(sigma, float)
    return integrate_modal(q0, n_steps, fs, k**2, omega, sigma, alpha, substeps)


def integrate_modal(q0, n_steps, fs, k2, omega, sigma, alpha, substeps=64):
    """Modes q̈_n + 2σ_n q̇_n + ω_n² q_n + α k2_n q_n Σ_m k2_m q_m² = 0 from rest: q and q̇, each
    (..., T, N), from q0 (..., N); k2 are the squared wavenumbers (a string's k_n², a membrane's
    k_mn²), the tension term that of Kirchhoff–Carrier or Berger.

    Lawson RK4 (integrating factor): y' = A y + f(y) with A the per-mode linear part, integrated
    exactly by e^{Ah}, and f(y) = (0, −α k2 q Σ k2_m q_m²) by RK4 in between.
    """
    h = 1 / (fs * substeps)
    blocks = np.zeros((q0.shape[-1], 2, 2))  # per mode: d/dt (q, q̇) = [[0, 1], [−ω², −2σ]] (q, q̇)
    blocks[:, 0, 1] = 1
    blocks[:, 1, 0] = -(omega**2)
    blocks[:, 1, 1] = -2 * sigma
    full, half = scipy.linalg.expm(blocks * h), scipy.linalg.expm(blocks * h / 2)  # (N, 2, 2)

    def integrate(plucks):  # (N, b) -> q, q̇ (T, N, b)
        with jax.enable_x64(True):  # float64 whatever the caller's default (per thread); compiled
            coefficients = [jnp.asarray(a, jnp.float64) for a in (plucks, k2, full, half, h, alpha)]
            return [np.asarray(a) for a in _lawson(*coefficients, n_steps, substeps)]

    modes_first = np.reshape(q0, (-1, q0.shape[-1])).T  # (N, B): one row per mode, the plucks along it
    starts = range(0, modes_first.shape[1], PLUCKS_PER_CALL)
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        parts = list(pool.map(integrate, [modes_first[:, i : i + PLUCKS_PER_CALL] for i in starts]))
    shape = (*np.shape(q0)[:-1], n_steps, np.shape(q0)[-1])
    # (T, N, B) -> (..., T, N), contiguous: a strided view would make to_frames' products 2.5× slower
    return tuple(
        np.ascontiguousarray(np.concatenate([p[j] for p in parts], -1).transpose(2, 0, 1)).reshape(shape)
        for j in (0, 1)
    )


# Plucks integrated by one call of the compiled steps, the calls spread over the cores: the paper's
# 1000 plucks of 25 modes at 16 kHz take 32 s on two cores against 70 s in one call (10 modes at
# 4 kHz: 15 s against 21; docs/performance.md), their numbers the same to the last bit as in one call.
# (A pluck's numbers do not depend on the others', but the compiled loop's rounding may on the call's
# width: 250 plucks a call differ from one call by an ulp at 4 kHz.)
PLUCKS_PER_CALL = 500


@partial(jax.jit, static_argnums=(6, 7))
def _lawson(q0, k2, full, half, h, alpha, n_steps, substeps):
    """integrate_modal's steps: q and q̇ (T, N, B) from q0 (N, B) at rest, B plucks of N modes."""
    k2, full, half = k2[:, None], full[:, None], half[:, None]  # per mode, broadcast over the plucks

    def force(q):  # the nonlinear part of q̈
        return -alpha * k2 * q * jnp.sum(k2 * q**2, axis=0)

    def step(_, state):
        # Lawson RK4, y_{n+1} = E y + h/6 (E f1 + 2 E½ (f2 + f3) + f4) with E = e^{Ah}, E½ = e^{Ah/2}.
        # f acts on q̇ only (its q part is 0), so E applied to f is the second column of E times it.
        q, v = state
        q_half = half[..., 0, 0] * q + half[..., 0, 1] * v
        q_full = full[..., 0, 0] * q + full[..., 0, 1] * v
        v_full = full[..., 1, 0] * q + full[..., 1, 1] * v
        f1 = force(q)
        f2 = force(q_half + h / 2 * half[..., 0, 1] * f1)
        f3 = force(q_half)
        f4 = force(q_full + h * half[..., 0, 1] * f3)
        q_next = q_full + h / 6 * (full[..., 0, 1] * f1 + 2 * half[..., 0, 1] * (f2 + f3))
        v_next = v_full + h / 6 * (full[..., 1, 1] * f1 + 2 * half[..., 1, 1] * (f2 + f3) + f4)
        return q_next, v_next

    def sample(state, _):
        return jax.lax.fori_loop(0, substeps, step, state), state

    _, (q, v) = jax.lax.scan(sample, (q0, jnp.zeros_like(q0)), length=n_steps)
    return q, v


def simulate_adaptive(string, q0, n_steps, fs, rtol=1e-10):
    """The same string by a different integrator: scipy's adaptive DOP853 on the plain modal ODE
    (no exact linear part), all plucks q0 (B, N) as one system. Returns q and q̇, each (B, T, N)."""
    batch, n_modes = q0.shape
    k, omega, sigma = string_modes(string, n_modes)
    alpha = string.tension_modulation

    def rhs(_, y):
        q, v = y.reshape(2, batch, n_modes)
        tension = alpha * np.sum(k**2 * q**2, axis=-1, keepdims=True)
        return np.concatenate([v, -(omega**2) * q - 2 * sigma * v - tension * k**2 * q]).ravel()

    t = np.arange(n_steps) / fs
    y0 = np.concatenate([q0, np.zeros_like(q0)]).ravel()
    y = solve_ivp(rhs, (0, t[-1]), y0, method="DOP853", rtol=rtol, atol=rtol * 1e-6, t_eval=t).y  # (2BN, T)
    q, v = y.reshape(2, batch, n_modes, n_steps)
    return np.moveaxis(q, -1, 1), np.moveaxis(v, -1, 1)
