"""Shared fixtures: model factories, the float64 switch and the relative error."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import settings

import recurrent as rec
from mlp import MLP

# Property tests: a bounded, reproducible default for CI on this noisy machine (no deadline, fixed
# examples); `python -m pytest --hypothesis-profile=thorough` searches much longer.
settings.register_profile("ci", max_examples=30, derandomize=True, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=2000, deadline=None, print_blob=True)
settings.load_profile("ci")

# The tests hold the math to float64 references, so float32 products run at full precision on every
# backend, as in run_checks.py (NVIDIA GPUs default to TF32, about 1e-3).
jax.config.update("jax_default_matmul_precision", "highest")

MODAL_CLASSES = [
    rec.LRUDynamics,
    rec.LRUDynamicsVarying,
    rec.DiscreteModalDynamics,
    rec.DiscreteModalDynamicsVarying,
    rec.DiscreteModalDynamicsAngleMag,
]
LINEAR_CLASSES = [rec.LRUDynamics, rec.DiscreteModalDynamics, rec.DiscreteModalDynamicsAngleMag]


def relative(a, b):
    """‖a − b‖ / ‖b‖ over all entries."""
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def make_modal(cls, d_hidden=8, prepend_ones=False, clip=False, param_dtype=jnp.float32, **overrides):
    """An instance of any modal class (or its Batched form) with sensible stable hyper-parameters."""
    if issubclass(cls, rec.LRUDynamics):
        kwargs = dict(r_min=0.9, r_max=0.999, max_phase=jnp.pi, clip_eigs=clip)
    else:
        kwargs = dict(clip=clip, r_min=0.5, r_max=0.999, min_phase=0.0, max_phase=jnp.pi)
    if issubclass(cls, (rec.LRUDynamicsVarying, rec.DiscreteModalDynamicsVarying)):
        kwargs["model"] = MLP([16, 2 * d_hidden], param_dtype=param_dtype)
    kwargs.update(overrides)
    return cls(d_hidden=d_hidden, prepend_ones=prepend_ones, param_dtype=param_dtype, **kwargs)


@pytest.fixture
def x64():
    """Run the test with jax_enable_x64, restoring the default afterwards."""
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)
