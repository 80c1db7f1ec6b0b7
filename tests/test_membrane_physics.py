"""The membrane simulator against references that share no code with it."""

import numpy as np
import scipy.linalg
from conftest import relative

from examples.membrane import physics
from examples.string.physics import integrate_modal

FS = 4000.0
MEMBRANE = physics.MEMBRANE


def strongest_pluck(n_modes=40):
    m, n, *_ = physics.modes(MEMBRANE, FS, n_modes)
    return physics.pluck(MEMBRANE, (0.3 * MEMBRANE.lx, 0.6 * MEMBRANE.ly), 0.02, 10e-3, m, n)


def zero_crossing_frequency(q, fs):
    """Mean frequency (Hz) from the upward zero crossings of q (T,), interpolated."""
    up = np.flatnonzero((q[:-1] < 0) & (q[1:] >= 0))
    times = (up + q[up] / (q[up] - q[up + 1])) / fs
    return (len(times) - 1) / (times[-1] - times[0])


def test_without_tension_modulation_it_is_the_exact_modal_solution():
    q0 = strongest_pluck()
    q, v = physics.simulate(MEMBRANE, q0, 1000, FS, nonlinear=False, substeps=4)
    _, _, k2, omega, sigma = physics.modes(MEMBRANE, FS, q0.size)
    for i in range(q0.size):  # each mode: the real (q, q̇) system stepped by its matrix exponential
        step = scipy.linalg.expm(np.array([[0, 1], [-(omega[i] ** 2), -2 * sigma[i]]]) / FS)
        state, exact = np.array([q0[i], 0.0]), np.empty((1000, 2))
        for t in range(1000):
            exact[t], state = state, step @ state
        assert relative(np.stack([q[:, i], v[:, i]], -1), exact) <= 1e-8


def test_substeps_converge_on_the_strongest_pluck():
    q0 = strongest_pluck()
    coarse = np.concatenate(physics.simulate(MEMBRANE, q0, 400, FS), -1)
    fine = np.concatenate(physics.simulate(MEMBRANE, q0, 400, FS, substeps=128), -1)
    assert relative(coarse, fine) <= 1e-6
    linear = np.concatenate(physics.simulate(MEMBRANE, q0, 400, FS, nonlinear=False), -1)
    assert relative(linear, fine) >= 0.1  # a 10 mm pluck is far from linear


def test_a_single_mode_follows_its_duffing_backbone():
    """Mode (1, 1) alone, lossless: q̈ + ω² q + β q³ = 0 with β = α k⁴, whose frequency rises as
    ω (1 + 3βa²/8ω²) to first order; measured within 1 % of the rise."""
    _, _, k2, omega, _ = physics.modes(MEMBRANE, FS, 1)
    fs = 48000.0
    beta = MEMBRANE.tension_modulation * k2[0] ** 2
    for amplitude in (0.5e-3, 1e-3):  # a rise of 0.2 and 0.7 %: where first order holds
        q, _ = integrate_modal(
            np.array([amplitude]), 24000, fs, k2, omega, np.zeros(1), MEMBRANE.tension_modulation, 2
        )
        measured = 2 * np.pi * zero_crossing_frequency(q[:, 0], fs)
        rise = omega[0] * 3 * beta * amplitude**2 / (8 * omega[0] ** 2)
        assert abs(measured - (omega[0] + rise)) <= 0.01 * rise


def test_modal_frequencies_are_the_analytic_ones_stiffness_included():
    """Each of the first modes, alone and linear, oscillates at sqrt(ω_mn² − σ_mn²) with
    ω_mn² = (D k⁴ + Ts0 k²) / ρh, D = E h³ / 12(1 − ν²), written out here from the parameters."""
    m, n, *_ = physics.modes(MEMBRANE, FS, 6)
    lx, ly, rho, h, young, nu, d1, d3, ts0 = 0.4, 0.36, 1380.0, 1.9e-4, 3.5e9, 0.3, 8e-5, 1.4e-5, 2620.0
    bending = young * h**3 / (12 * (1 - nu**2))
    k2 = (m * np.pi / lx) ** 2 + (n * np.pi / ly) ** 2
    omega2 = (bending * k2**2 + ts0 * k2) / (rho * h)
    sigma = (d1 + d3 * k2) / (2 * rho * h)
    analytic = np.sqrt(omega2 - sigma**2) / (2 * np.pi)
    assert np.all(np.diff(analytic) >= 0) and abs(analytic[0] - 186.8) < 0.1  # (1, 1) first, 186.8 Hz
    fs = 48000.0
    for i in range(6):
        q0 = np.zeros(6)
        q0[i] = 1e-3
        q, _ = physics.simulate(MEMBRANE, q0, 48000, fs, nonlinear=False, substeps=1, n_modes=6)
        assert abs(zero_crossing_frequency(q[:, i], fs) - analytic[i]) <= 1e-4 * analytic[i]
