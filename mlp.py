"""A multi-layer perceptron: the default `model` of the Varying modal dynamics in recurrent.py."""

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp


class MLP(nn.Module):
    """Dense layers; activation (after an optional LayerNorm) between them, none after the last."""

    hidden_channels: Sequence[int]  # output width of each Dense layer; the last is the output
    activation: Callable = nn.selu  # applied after every layer but the last
    kernel_init: Callable = nn.initializers.lecun_normal()  # Dense kernel initialiser
    use_bias: bool = True  # Dense layers with bias
    layer_norm: bool = False  # LayerNorm before each activation
    param_dtype: Any = jnp.float32  # dtype of the weights (float64 for x64 runs)

    @nn.compact
    def __call__(self, x):
        """x: (..., F) real features -> (..., hidden_channels[-1])."""
        channels = list(self.hidden_channels)
        if not channels or any(isinstance(c, bool) or not isinstance(c, int) or c <= 0 for c in channels):
            raise ValueError(
                f"hidden_channels={self.hidden_channels!r}: expected a non-empty list of positive ints"
            )
        for i, features in enumerate(channels):
            x = nn.Dense(
                features, use_bias=self.use_bias, kernel_init=self.kernel_init, param_dtype=self.param_dtype
            )(x)
            if i < len(channels) - 1:
                if self.layer_norm:
                    x = nn.LayerNorm(param_dtype=self.param_dtype)(x)
                x = self.activation(x)
        return x
