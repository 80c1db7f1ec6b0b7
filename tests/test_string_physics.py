"""The tension-modulated string simulator against references that do not share its code."""

import numpy as np
import pytest
from conftest import relative
from scipy.integrate import solve_ivp

from examples.string import physics

N_MODES, FS = 25, 4000.0


def strong_pluck():
    """The strongest pluck of the default nonlinear data: highest and narrowest."""
    peak = 1.5e-3
    return physics.pluck(
        physics.STEEL_A2,
        0.3 * physics.STEEL_A2.length,
        0.02 * physics.STEEL_A2.length,
        N_MODES,
        amplitude=peak,
    )


def test_without_tension_modulation_it_is_the_linear_string():
    q0 = strong_pluck()
    q, v = physics.simulate_modal(physics.STEEL_A2, q0, 2000, FS, alpha=0.0, substeps=4)
    linear = physics.simulate(
        physics.STEEL_A2, q0, 2000, FS, 101
    )  # one matrix exponential of the whole system
    assert relative(physics.to_frames(physics.STEEL_A2, q, v, 101), linear) <= 1e-8


def test_it_has_converged():
    q0 = strong_pluck()
    q, v = physics.simulate_modal(physics.STEEL_A2, q0, 1000, FS)
    q_fine, v_fine = physics.simulate_modal(physics.STEEL_A2, q0, 1000, FS, substeps=128)
    assert relative(q, q_fine) <= 1e-6 and relative(v, v_fine) <= 1e-6


def adaptive(q0, n_steps):
    """scipy's DOP853 with tight tolerances on the plain modal ODE: q, q̇ (T, N) from q0 (N,) at rest."""
    k, omega, sigma = physics.string_modes(physics.STEEL_A2, N_MODES)

    def rhs(t, y):
        q, v = y[:N_MODES], y[N_MODES:]
        tension = physics.STEEL_A2.tension_modulation * np.sum(k**2 * q**2)
        return np.concatenate([v, -(omega**2) * q - 2 * sigma * v - tension * k**2 * q])

    y0 = np.concatenate([q0, np.zeros(N_MODES)])
    t = np.arange(n_steps) / FS
    ref = solve_ivp(rhs, (0, t[-1]), y0, method="DOP853", rtol=1e-12, atol=1e-18, t_eval=t).y
    return ref[:N_MODES].T, ref[N_MODES:].T


def test_it_agrees_with_an_adaptive_reference():
    q0, n_steps = strong_pluck(), 400
    q_ref, v_ref = adaptive(q0, n_steps)
    q, v = physics.simulate_modal(physics.STEEL_A2, q0, n_steps, FS)
    assert relative(q, q_ref) <= 1e-6 and relative(v, v_ref) <= 1e-6


def test_plucks_integrated_in_several_calls_are_each_their_own(monkeypatch):
    """Plucks of a (2, 3) batch, six amplitudes, integrated two to a call of the compiled steps
    (PLUCKS_PER_CALL), the calls spread over threads: each is the adaptive reference's for it alone."""
    monkeypatch.setattr(physics, "PLUCKS_PER_CALL", 2)
    q0 = strong_pluck() * np.linspace(0.2, 1.0, 6).reshape(2, 3, 1)
    q, v = physics.simulate_modal(physics.STEEL_A2, q0, 200, FS)
    assert q.shape == v.shape == (2, 3, 200, N_MODES)
    for index in np.ndindex(2, 3):
        q_ref, v_ref = adaptive(q0[index], 200)
        assert relative(q[index], q_ref) <= 1e-6 and relative(v[index], v_ref) <= 1e-6


def measured_frequency(q, fs):
    """Hz, from the first and last upward zero crossings, linearly interpolated."""
    up = np.flatnonzero((q[:-1] < 0) & (q[1:] >= 0))
    times = (up + q[up] / (q[up] - q[up + 1])) / fs
    return (len(times) - 1) / (times[-1] - times[0])


@pytest.mark.parametrize("rise", [1e-3, 4e-3])
def test_pitch_rises_with_amplitude_as_the_duffing_backbone(rise):
    """One lossless mode is a Duffing oscillator q̈ + ω²q + βq³ = 0, β = α k⁴; released at rest from
    amplitude a, its frequency is ω (1 + 3βa² / 8ω²) to first order in βa²/ω² (Lindstedt)."""
    k, omega, _ = physics.string_modes(physics.STEEL_A2, 1)
    beta = physics.STEEL_A2.tension_modulation * k[0] ** 4
    amplitude = np.sqrt(8 * rise * omega[0] ** 2 / (3 * beta))
    fs = 44100.0
    q, _ = physics.simulate_modal(
        physics.STEEL_A2, np.array([amplitude]), 22050, fs, substeps=2, sigma=np.zeros(1)
    )
    f0 = omega[0] / (2 * np.pi)
    measured_rise = measured_frequency(q[:, 0], fs) / f0 - 1
    assert abs(measured_rise / rise - 1) <= 0.01, f"rise {measured_rise:.4e}, predicted {rise:.4e}"
