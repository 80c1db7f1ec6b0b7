"""magic_clamp's forward and conditional straight-through backward; the MLP against NumPy."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clamp import magic_clamp
from mlp import MLP


def test_magic_clamp_forward_is_clip():
    x = jnp.linspace(-3.0, 3.0, 13)
    np.testing.assert_array_equal(magic_clamp(x, -1.0, 2.0), np.clip(np.asarray(x), -1.0, 2.0))


@pytest.mark.parametrize(
    "x, g, passes",
    [
        (0.5, 0.7, True),  # inside: always passes
        (0.5, -0.7, True),
        (-2.0, -0.7, True),  # below, descent step x - lr*g raises x toward the interval
        (-2.0, 0.7, False),  # below, step would lower x further
        (3.0, 0.7, True),  # above, step lowers x toward the interval
        (3.0, -0.7, False),  # above, step would raise x further
    ],
)
def test_magic_clamp_backward_case_by_case(x, g, passes):
    _, vjp = jax.vjp(lambda v: magic_clamp(v, -1.0, 2.0), jnp.float32(x))
    (grad,) = vjp(jnp.float32(g))
    assert grad == (np.float32(g) if passes else 0.0)
    # jnp.clip, for contrast, blocks every gradient outside the bounds.
    (clip_grad,) = jax.vjp(lambda v: jnp.clip(v, -1.0, 2.0), jnp.float32(x))[1](jnp.float32(g))
    assert clip_grad == (np.float32(g) if -1.0 <= x <= 2.0 else 0.0)


def test_magic_clamp_composes_with_jit_and_vmap():
    x = jnp.array([-2.0, 0.5, 3.0])
    grad = jax.jit(jax.grad(lambda v: jnp.sum(magic_clamp(v, -1.0, 2.0) ** 2)))(x)
    # d/dx of clip(x)^2 is 2 clip(x): -2 at x=-2 and 4 at x=3 both point back inside, so both pass.
    np.testing.assert_allclose(grad, [-2.0, 1.0, 4.0])
    # Minimising (clip(x) + 5)^2 wants x lower: at x=-2 that step leads out, so it is blocked.
    grad_out = jax.grad(lambda v: jnp.sum((magic_clamp(v, -1.0, 2.0) + 5) ** 2))(x)
    np.testing.assert_allclose(grad_out, [0.0, 11.0, 14.0])
    np.testing.assert_allclose(jax.vmap(lambda v: magic_clamp(v, 0.0, 1.0))(x), [0.0, 0.5, 1.0])


def _selu(x):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * np.where(x > 0, x, alpha * (np.exp(x) - 1))


@pytest.mark.parametrize("layer_norm", [False, True])
def test_mlp_matches_numpy(layer_norm):
    mlp = MLP([16, 8, 6], layer_norm=layer_norm)
    x = jax.random.normal(jax.random.key(0), (5, 4))
    params = mlp.init(jax.random.key(1), x)["params"]
    h = np.asarray(x, np.float64)
    for i in range(3):
        dense = params[f"Dense_{i}"]
        h = h @ np.asarray(dense["kernel"], np.float64) + np.asarray(dense["bias"], np.float64)
        if i < 2:
            if layer_norm:
                ln = params[f"LayerNorm_{i}"]
                h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-6)
                h = h * np.asarray(ln["scale"]) + np.asarray(ln["bias"])
            h = _selu(h)
    np.testing.assert_allclose(mlp.apply({"params": params}, x), h, rtol=1e-5, atol=1e-5)
    assert ("LayerNorm_0" in params) == layer_norm and "LayerNorm_2" not in params


def test_mlp_options():
    mlp = MLP([3], use_bias=False, activation=nn.relu, kernel_init=nn.initializers.ones)
    params = mlp.init(jax.random.key(0), jnp.ones(2))["params"]
    assert "bias" not in params["Dense_0"]
    np.testing.assert_allclose(mlp.apply({"params": params}, jnp.array([1.0, -3.0])), [-2.0] * 3)


@pytest.mark.parametrize("channels", [[], [4, 0], [4, -1], [2.5]])
def test_mlp_rejects_bad_channels(channels):
    with pytest.raises(ValueError, match="hidden_channels"):
        MLP(channels).init(jax.random.key(0), jnp.ones(2))
