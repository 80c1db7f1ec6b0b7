"""The physics of the membrane example: a stiff, lossy rectangular membrane with fixed edges.

Linear (FTM form, as its authors' `Wave2dSolverTensionModulated` configures it):

    ρh u_tt + D ∇⁴u − Ts0 ∇²u + d1 u_t − d3 ∇²u_t = 0,   D = E h³ / 12(1 − ν²),

on 0 ≤ x ≤ Lx, 0 ≤ y ≤ Ly. Its modes are sin(mπx/Lx) sin(nπy/Ly) with k² = (mπ/Lx)² + (nπ/Ly)²,
ω² = (D k⁴ + Ts0 k²) / ρh and σ = (d1 + d3 k²) / 2ρh.

Nonlinear (Berger, the 2D analogue of the string's Kirchhoff–Carrier): the tension grows with the
mean squared gradient, Ts = Ts0 + (E h / 2(1 − ν²) Lx Ly) ∬ |∇u|² dA. With u = Σ q_mn φ_mn,
∬ |∇u|² dA = (Lx Ly / 4) Σ k² q², so every mode gets the extra force

    q̈_n + 2σ_n q̇_n + ω_n² q_n + α k_n² q_n Σ_m k_m² q_m² = 0,   α = E / 8ρ(1 − ν²):

the tension couples every mode to every other. Integrated by the string's Lawson RK4
(`examples.string.physics.integrate_modal`). Frames are u and u_t on an Nx × Ny grid, flattened to
W = Nx·Ny points: (T, W, C=2), the string example's layout, so its models apply unchanged.
"""

import dataclasses

import numpy as np

from examples.string.physics import integrate_modal


@dataclasses.dataclass(frozen=True)
class Membrane:
    """A rectangular membrane's parameters (SI units)."""

    lx: float  # Lx, m
    ly: float  # Ly, m
    density: float  # ρ, kg/m³
    thickness: float  # h, m
    young: float  # E, Pa
    poisson: float  # ν
    d1: float  # kg/(m² s)
    d3: float  # kg/s
    tension: float  # Ts0, N/m

    @property
    def bending(self):
        """D = E h³ / 12(1 − ν²), N m."""
        return self.young * self.thickness**3 / (12 * (1 - self.poisson**2))

    @property
    def tension_modulation(self):
        """α = E / 8ρ(1 − ν²), m²/s²."""
        return self.young / (8 * self.density * (1 - self.poisson**2))


# Its authors' data configuration: Lx = 0.4 m, aspect ratio 0.9.
MEMBRANE = Membrane(
    lx=0.4,
    ly=0.36,
    density=1380.0,
    thickness=1.9e-4,
    young=3.5e9,
    poisson=0.3,
    d1=8e-5,
    d3=1.4e-5,
    tension=2620.0,
)


def modes(membrane, fs, n_modes=None):
    """(m, n, k², ω, σ) of the modes below fs/2, lowest first, or of the n_modes lowest: each (N,)."""
    top = 64
    m, n = (a.ravel() for a in np.meshgrid(np.arange(1, top + 1), np.arange(1, top + 1), indexing="ij"))
    k2 = (m * np.pi / membrane.lx) ** 2 + (n * np.pi / membrane.ly) ** 2
    mass = membrane.density * membrane.thickness  # ρh, kg/m²
    omega = np.sqrt((membrane.bending * k2**2 + membrane.tension * k2) / mass)
    sigma = (membrane.d1 + membrane.d3 * k2) / (2 * mass)
    order = np.argsort(omega, kind="stable")
    keep = order[: n_modes or np.count_nonzero(omega < np.pi * fs)]
    return m[keep], n[keep], k2[keep], omega[keep], sigma[keep]


def discrete_eigenvalues(membrane, fs, n_modes=None):
    """λ = exp((−σ + i ω_d) / fs), ω_d = sqrt(ω² − σ²), of those modes."""
    *_, omega, sigma = modes(membrane, fs, n_modes)
    return np.exp((-sigma + 1j * np.sqrt(omega**2 - sigma**2)) / fs)


def pluck(membrane, centre, width, peak, m, n):
    """Modal amplitudes q_mn(0) of a Gaussian exp(−|r − centre|² / 2 width²) of height `peak`,
    projected on the modes (m, n): separable, so two 1D projections."""

    def project(length, c, wavenumbers):
        s = np.linspace(0, length, 2001)
        shape = np.exp(-0.5 * ((s - c) / width) ** 2)
        return 2 / length * np.trapezoid(shape * np.sin(np.outer(wavenumbers, s) * np.pi / length), s, axis=1)

    return peak * project(membrane.lx, centre[0], m) * project(membrane.ly, centre[1], n)


def to_frames(membrane, q, v, m, n, points):
    """Modal q, q̇ (..., T, N) -> frames (..., T, W = Nx·Ny, 2) on a grid of points = (Nx, Ny)."""
    x = np.linspace(0, membrane.lx, points[0])
    y = np.linspace(0, membrane.ly, points[1])
    shapes = np.einsum(
        "in,jn->ijn",
        np.sin(np.outer(x, m) * np.pi / membrane.lx),
        np.sin(np.outer(y, n) * np.pi / membrane.ly),
    )
    shapes = shapes.reshape(-1, m.size)  # (W, N), x major
    return np.stack([q @ shapes.T, v @ shapes.T], axis=-1)


def simulate(membrane, q0, n_steps, fs, nonlinear=True, substeps=64, n_modes=None):
    """Modal q and q̇ (..., T, N) of plucks q0 (..., N) released at rest, linear or Berger."""
    _, _, k2, omega, sigma = modes(membrane, fs, n_modes or q0.shape[-1])
    alpha = membrane.tension_modulation if nonlinear else 0.0
    return integrate_modal(q0, n_steps, fs, k2, omega, sigma, alpha, substeps)
