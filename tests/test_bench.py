"""Every rollout method timed by bench.py against float64 NumPy powers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bench


def power_reference(real_imag, x0s, n_steps):
    lam = np.asarray(real_imag, np.float64) @ np.array([1, 1j])
    return (
        lam[None, None] ** np.arange(1, n_steps + 1)[None, :, None] * np.asarray(x0s, np.complex128)[:, None]
    )


@pytest.mark.parametrize("n_steps", [1, 50, 1000])
def test_methods_match_numpy(n_steps):
    rng = np.random.default_rng(0)
    lam = rng.uniform(0.9, 1.0, 8) * np.exp(1j * rng.uniform(0, np.pi, 8))
    real_imag = jnp.asarray(np.stack([lam.real, lam.imag], -1), jnp.float32)
    x0s = jax.lax.complex(*jnp.asarray(rng.standard_normal((2, 3, 8)), jnp.float32))
    ref = power_reference(real_imag, x0s, n_steps)
    np.testing.assert_allclose(bench.reference(real_imag, x0s, n_steps), ref, atol=1e-12)
    methods = {
        "spec": bench.batched(bench.spec_rollout),
        "scan": bench.batched(bench.scan_rollout),
        "closed": bench.batched(bench.closed_rollout),
        "vjp": bench.batched(bench.vjp_rollout),
        "project": lambda r, x, n: bench.project_rollout(r, x, n, 8),
    }
    # The closed form's phase k·arg λ carries float32 rounding of k·π: the loosest method.
    for name, fn in methods.items():
        out = fn(real_imag, x0s, n_steps)
        assert out.shape == (3, n_steps, 8), name
        np.testing.assert_allclose(out, ref, atol=n_steps * 4 * np.finfo(np.float32).eps * np.abs(ref).max())
    fill = bench.floor_fill(real_imag, x0s, n_steps)
    np.testing.assert_array_equal(fill, np.broadcast_to(np.asarray(x0s)[:, None], (3, n_steps, 8)))
