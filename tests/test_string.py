"""The modal models reproduce a real string given its eigenvalues; the example's training runs.

How a real displacement comes out of the complex modal state: mode n of a string released at rest
moves as q_n(t) = e^{-σ_n t} q_n(0) (cos ω_dn t + (σ_n / ω_dn) sin ω_dn t) = Re(c_n λ_n^k) at
t = k / fs, with λ_n = exp((−σ_n + i ω_dn) / fs) and the complex initial amplitude
c_n = q_n(0) (1 − i σ_n / ω_dn). So the modal state is x0 = c, the rollout with prepend_ones=True
gives x_k = λ^k c, and the displacement is u(x, t_k) = Σ_n Re(x_k,n) sin(k_n x).
The reference is independent of that formula: the real (q, q̇) system stepped by its matrix
exponential in float64.
"""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LINEAR_CLASSES, make_modal

spec = importlib.util.spec_from_file_location(
    "string_example", Path(__file__).resolve().parents[1] / "examples" / "string.py"
)
string_example = importlib.util.module_from_spec(spec)  # not `import string`: that is Python's own
spec.loader.exec_module(string_example)

N_MODES, FS, N_STEPS, N_POINTS = 25, 16000.0, 4000, 101


@pytest.mark.parametrize("cls", LINEAR_CLASSES)
@pytest.mark.parametrize("x64_run, tolerance", [(False, 2e-4), (True, 1e-9)], ids=["float32", "float64"])
def test_modal_models_reproduce_the_string(cls, x64_run, tolerance, request):
    if x64_run:
        request.getfixturevalue("x64")
    dtype = jnp.float64 if x64_run else jnp.float32
    q0 = string_example.pluck(0.3 * string_example.LENGTH, 0.05 * string_example.LENGTH, N_MODES)
    reference = string_example.simulate(q0, N_STEPS, FS, N_POINTS)[..., 0]  # (T, W) displacement

    k, omega, sigma = string_example.string_modes(N_MODES)
    damped = np.sqrt(omega**2 - sigma**2)
    module = make_modal(cls, d_hidden=N_MODES, prepend_ones=True, param_dtype=dtype)
    variables = module.init(jax.random.key(0), jnp.ones(N_MODES, dtype), 4)
    lam = string_example.discrete_eigenvalues(N_MODES, FS)
    _, variables = module.apply(variables, lam, method="set_eigenvalues", mutable=["params"])
    x0 = jnp.asarray(q0 * (1 - 1j * sigma / damped), jax.dtypes.canonicalize_dtype(jnp.complex128))
    states = np.asarray(module.apply(variables, x0, N_STEPS))  # (T, N) complex
    shapes = np.sin(np.outer(np.linspace(0, string_example.LENGTH, N_POINTS), k))  # (W, N)
    u = states.real.astype(np.float64) @ shapes.T
    error = np.linalg.norm(u - reference) / np.linalg.norm(reference)
    assert error <= tolerance, f"relative error {error:.2e} > {tolerance:.0e}"


def test_tiny_training_run_lowers_the_loss():
    rng = np.random.default_rng(0)
    data = string_example.make_plucks(6, 4, 200, 4000.0, 11, rng)
    frames = (data / data.std(axis=(0, 1, 2))).astype(np.float32)
    model = string_example.BatchedKoopmanString(d_hidden=4, dynamics="lru")
    params = model.init(jax.random.key(0), jnp.asarray(frames[:1, 0]), 200)["params"]
    params = string_example.initialise_from_dmd(
        params, model, frames.astype(np.float64), eigenvalues_only=True
    )
    _, losses = string_example.train(model, params, frames, 40, 4, 0.1, 1e-6, seed=0, log=lambda line: None)
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
