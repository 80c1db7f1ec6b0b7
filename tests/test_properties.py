"""Property-based tests of the public surface: every input gets a correct finite result or a clear error.

Inputs come from hypothesis (profiles in conftest.py: a bounded, derandomised `ci` default and
`--hypothesis-profile=thorough`). References are float64 NumPy; the rules they check are the
documented contracts, restated here.
"""

import math
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LINEAR_CLASSES, MODAL_CLASSES, make_modal
from hypothesis import assume, example, given
from hypothesis import strategies as st

import recurrent as rec
from clamp import magic_clamp
from mlp import MLP

D = 3
VARYING = (rec.LRUDynamicsVarying, rec.DiscreteModalDynamicsVarying)
SPECIAL_RADII = [0.0, 1e-300, 1e-40, 1e-8, 0.5, 1 - 1e-12, 1 - 1e-7, 1.0, 1 + 1e-7, 2.0, 1e40, 1e300]
radii = st.one_of(st.sampled_from(SPECIAL_RADII), st.floats(0, 1.5), st.sampled_from([np.nan, np.inf]))
phases = st.one_of(st.sampled_from([0.0, np.pi / 2, np.pi, -np.pi / 2]), st.floats(-np.pi, np.pi))
eigenvalue = st.builds(
    lambda r, p: complex(r * np.exp(1j * p)) if np.isfinite(r) else complex(r, 0), radii, phases
)
eigenvalues = st.lists(eigenvalue, min_size=D, max_size=D).map(np.array)
# For the rollout: mostly values every form represents, some that only the unclipped real/imaginary
# form does (0, on and outside the unit circle), so that few examples are filtered out.
inside = st.one_of(st.sampled_from([1e-300, 1e-40, 1e-8, 0.5, 1 - 1e-7, 1 - 1e-12]), st.floats(1e-6, 0.9999))
usable_radii = st.one_of(inside, inside, inside, st.sampled_from([0.0, 1.0, 1 + 1e-7, 2.0, 1e40]))
usable = st.lists(
    st.builds(lambda r, p: complex(r * np.exp(1j * p)), usable_radii, phases), min_size=D, max_size=D
)
n_steps = st.one_of(
    st.integers(0, 8),
    st.sampled_from([63, 64, 65, 1000, 2048, 3000]),
    st.sampled_from([np.int32(5), np.int64(64)]),
)
x0_dtypes = st.sampled_from(
    [np.float32, np.float64, np.complex64, np.complex128, np.int32, np.float16, "list"]
)
precisions = st.sampled_from([jnp.float32, jnp.float64])


@pytest.fixture(autouse=True)
def _x64():
    """x64 on, so float64 parameters are float64; float32 runs use param_dtype=float32."""
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)


def complex_dtype(param_dtype):
    return np.result_type(param_dtype, np.complex64)


def in_precision(lam, param_dtype):
    """λ in the parameters' complex precision where every entry fits; NaN and 1e300 as given."""
    return lam.astype(complex_dtype(param_dtype)) if np.all(np.abs(lam) <= np.finfo(param_dtype).max) else lam


def representable(cls, clip, lam, param_dtype):
    """The documented rule: which λ (already in the parameters' complex precision) set_eigenvalues takes."""
    with np.errstate(over="ignore", invalid="ignore"):  # too large for the precision: not representable
        stored = lam.astype(complex_dtype(param_dtype))
    radius = np.abs(stored.astype(np.complex128))
    if not np.all(np.isfinite(radius)):
        return False
    eps = np.finfo(param_dtype).eps
    if issubclass(cls, rec.LRUDynamics):
        return bool(
            np.all(radius > 0)
            and np.all(radius <= math.exp(-rec.LRU_CLIP) * (1 + eps) if clip else radius < 1)
        )
    if clip:
        return bool(np.all((radius >= rec.MIN_RADIUS * (1 - eps)) & (radius <= 1 + eps)))
    return True


def module_and_variables(cls, clip, param_dtype):
    module = make_modal(cls, d_hidden=D, clip=clip, param_dtype=param_dtype)
    return module, module.init(jax.random.key(0), jnp.ones(D, param_dtype), 2)


# ----------------------------------------------------------------------------- set / get


@given(cls=st.sampled_from(LINEAR_CLASSES), clip=st.booleans(), param_dtype=precisions, lam=eigenvalues)
@example(cls=rec.DiscreteModalDynamics, clip=False, param_dtype=jnp.float32, lam=np.array([0.5, np.nan, 0.5]))
@example(cls=rec.LRUDynamics, clip=False, param_dtype=jnp.float32, lam=np.array([0.5, np.nan, 0.5]))
@example(cls=rec.DiscreteModalDynamics, clip=False, param_dtype=jnp.float32, lam=np.array([0.5, 1e300, 0.5]))
def test_set_get_round_trips_or_names_the_entries(cls, clip, param_dtype, lam):
    module, variables = module_and_variables(cls, clip, param_dtype)
    lam = in_precision(lam, param_dtype)
    if not representable(cls, clip, lam, param_dtype):
        with pytest.raises(ValueError, match=r"eigenvalues\[\d+\]") as info:
            module.apply(variables, lam, method="set_eigenvalues", mutable=["params"])
        named = {int(i) for i in re.findall(r"\[(\d+)\]", str(info.value))}
        assert named and all(not representable(cls, clip, lam[i : i + 1], param_dtype) for i in named)
        return
    _, new = module.apply(variables, lam, method="set_eigenvalues", mutable=["params"])
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(new))
    got = np.asarray(module.apply(new, method="get_eigenvalues"), np.complex128)
    want = lam.astype(np.complex128)
    if issubclass(cls, rec.LRUDynamics):
        want = np.where(want.imag < 0, want.conj(), want)  # the log-polar form stores conjugates
    eps, tiny = np.finfo(param_dtype).eps, np.finfo(param_dtype).tiny
    log_size = np.abs(np.log(np.where(want == 0, 1, want)))  # log-polar: error grows with |log λ|
    assert np.all(np.abs(got - want) <= 8 * eps * (1 + log_size) * np.abs(want) + 4 * tiny)


# ----------------------------------------------------------------------------- rollout contract


@pytest.mark.slow
@given(
    cls=st.sampled_from(MODAL_CLASSES),
    clip=st.booleans(),
    prepend_ones=st.booleans(),
    param_dtype=precisions,
    lam=usable.map(np.array),
    x0_dtype=x0_dtypes,
    steps=n_steps,
)
def test_rollout_is_the_contract_or_a_clear_error(cls, clip, prepend_ones, param_dtype, lam, x0_dtype, steps):
    module = make_modal(cls, d_hidden=D, prepend_ones=prepend_ones, clip=clip, param_dtype=param_dtype)
    variables = module.init(jax.random.key(0), jnp.ones(D, param_dtype), 2)
    base = rec.LRUDynamics if issubclass(cls, rec.LRUDynamics) else rec.DiscreteModalDynamics
    if cls is rec.DiscreteModalDynamicsAngleMag:
        base = cls
    lam = in_precision(lam, param_dtype)
    assume(representable(base, clip, lam, param_dtype))
    variables = module.apply(variables, lam, method="set_eigenvalues", mutable=["params"])[1]
    raw = np.array([1.0, -2.0, 3.0])
    x0 = raw.tolist() if x0_dtype == "list" else raw.astype(x0_dtype)
    out = module.apply(variables, x0, steps)
    assert out.shape == (steps, D) and jnp.iscomplexobj(out)
    used = np.asarray(module.apply(variables, method="get_eigenvalues"), np.complex128)
    k = np.arange(steps)[:, None] + (0 if prepend_ones else 1)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = used[None] ** k * raw
    finfo = np.finfo(out.real.dtype)  # the dtype the rollout computed in
    out = np.asarray(out, np.complex128)
    if cls in VARYING:
        assert out.shape == ref.shape  # the gain's own reference is in test_recurrent.py
        return
    fits = np.abs(ref) < finfo.max / 4  # where the exact value is representable, it must be computed
    assert np.all(np.isfinite(out[fits]))
    tolerance = 4 * (k + 2) * finfo.eps * np.abs(ref) + 4 * finfo.tiny * np.abs(raw)
    assert np.all((np.abs(out - ref) <= tolerance)[fits])


@given(steps=st.one_of(st.integers(max_value=-1), st.floats(), st.booleans(), st.just("3")))
def test_bad_n_steps_is_named(steps):
    module, variables = module_and_variables(rec.DiscreteModalDynamics, False, jnp.float32)
    with pytest.raises((TypeError, ValueError), match="n_steps"):
        module.apply(variables, jnp.ones(D), steps)


# ----------------------------------------------------------------------------- gradients


@pytest.mark.slow
@given(
    cls=st.sampled_from(MODAL_CLASSES),
    clip=st.booleans(),
    radius=st.lists(st.floats(0.05, 0.99), min_size=D, max_size=D),
    phase=st.lists(st.floats(-3.1, 3.1), min_size=D, max_size=D),
    steps=st.integers(0, 40),
    seed=st.integers(0, 2**16),
)
@example(cls=rec.LRUDynamicsVarying, clip=False, radius=[0.5] * 3, phase=[0.0] * 3, steps=8, seed=0)
def test_gradients_are_finite_and_match_central_differences(cls, clip, radius, phase, steps, seed):
    # tanh, not selu, in the gain: selu's slope jumps at 0, where differences are no derivative.
    smooth = (
        {"model": MLP([16, 2 * D], activation=nn.tanh, param_dtype=jnp.float64)} if cls in VARYING else {}
    )
    module = make_modal(cls, d_hidden=D, clip=clip, param_dtype=jnp.float64, **smooth)
    lam = np.array(radius) * np.exp(1j * np.array(phase))
    rng = np.random.default_rng(seed)
    x0 = jnp.asarray(rng.standard_normal(D) + 1j * rng.standard_normal(D))
    variables = module.init(jax.random.key(seed), jnp.ones(D, jnp.float64), 2)
    params = module.apply(variables, lam, method="set_eigenvalues", mutable=["params"])[1]["params"]
    target = jnp.asarray(rng.standard_normal((steps, D)))

    @jax.jit  # compiled: the same numbers as eager, about eight times faster on a CPU
    def loss(p):
        return jnp.sum(jnp.abs(module.apply({"params": p}, x0, steps) - target) ** 2) / max(steps, 1)

    grads = jax.jit(jax.grad(loss))(params)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    direction = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape)), params)
    h = 1e-6
    shifted = [jax.tree.map(lambda p, v, s=s: p + s * h * v, params, direction) for s in (1, -1)]
    numeric = (loss(shifted[0]) - loss(shifted[1])) / (2 * h)
    analytic = sum(
        jnp.vdot(g, v) for g, v in zip(jax.tree.leaves(grads), jax.tree.leaves(direction), strict=True)
    )
    scale = sum(float(jnp.vdot(g, g)) for g in jax.tree.leaves(grads)) ** 0.5 * D + 1e-9
    assert abs(float(numeric - analytic)) <= 1e-5 * scale


# ----------------------------------------------------------------------------- magic_clamp


finite = st.floats(-1e6, 1e6, allow_subnormal=False)


@given(
    x=st.lists(finite, min_size=1, max_size=8),
    bounds=st.tuples(finite, finite),
    g=st.lists(finite, min_size=8, max_size=8),
)
def test_magic_clamp_is_clip_with_the_documented_gradient(x, bounds, g):
    low, high = sorted(bounds)
    x = np.array(x)
    g = np.array(g[: x.size])
    value, vjp = jax.vjp(lambda v: magic_clamp(v, low, high), jnp.asarray(x))
    np.testing.assert_array_equal(value, np.clip(x, low, high))
    passes = ((x >= low) & (x <= high)) | ((x < low) & (g < 0)) | ((x > high) & (g > 0))
    np.testing.assert_array_equal(vjp(jnp.asarray(g))[0], np.where(passes, g, 0.0))
