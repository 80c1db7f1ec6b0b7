"""A clamp whose gradient still moves values back into range.

`magic_clamp(x, min_val, max_val)` is `jnp.clip` on the forward pass. On the backward pass it is
the conditional straight-through estimator: inside the bounds the gradient passes unchanged;
outside them it passes only when a gradient-descent step `x - lr * g` moves `x` back toward the
interval, and is zero when that step would push `x` further out. Plain `jnp.clip` has zero
gradient outside the bounds, so a clamped parameter could never come back.
"""

import jax
import jax.numpy as jnp


@jax.custom_vjp
def magic_clamp(x, min_val, max_val):
    """Clip x to [min_val, max_val]; conditional straight-through gradient (module docstring)."""
    return jnp.clip(x, min_val, max_val)


def _magic_clamp_fwd(x, min_val, max_val):
    return magic_clamp(x, min_val, max_val), (x, min_val, max_val)


def _magic_clamp_bwd(residuals, g):
    x, min_val, max_val = residuals
    # The step x - lr * g raises x when g < 0 and lowers it when g > 0.
    passes = ((x >= min_val) & (x <= max_val)) | ((x < min_val) & (g < 0)) | ((x > max_val) & (g > 0))
    # The bounds are hyper-parameters, not trained: they get zero cotangents.
    return jnp.where(passes, g, jnp.zeros_like(g)), jnp.zeros_like(min_val), jnp.zeros_like(max_val)


magic_clamp.defvjp(_magic_clamp_fwd, _magic_clamp_bwd)
