"""recurrent.py against independent references: float64 NumPy powers, finite differences, loops."""

from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LINEAR_CLASSES, MODAL_CLASSES, make_modal
from jax.test_util import check_grads

import recurrent as rec
from mlp import MLP

VARYING = (rec.LRUDynamicsVarying, rec.DiscreteModalDynamicsVarying)
BATCHED = {
    rec.LRUDynamics: rec.BatchedLRUDynamics,
    rec.LRUDynamicsVarying: rec.BatchedLRUDynamicsVarying,
    rec.DiscreteModalDynamics: rec.BatchedDiscreteModalDynamics,
    rec.DiscreteModalDynamicsVarying: rec.BatchedDiscreteModalDynamicsVarying,
    rec.DiscreteModalDynamicsAngleMag: rec.BatchedDiscreteModalDynamicsAngleMag,
}


def random_state(key, d, dtype=jnp.float32):
    re, im = jax.random.normal(key, (2, d), dtype)
    return jax.lax.complex(re, im)


def random_disk(seed, d, r_min=0.05, r_max=0.99):
    """Eigenvalues uniform in angle over the whole circle (Im < 0 included), r in [r_min, r_max]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(r_min, r_max, d) * np.exp(1j * rng.uniform(-np.pi, np.pi, d))


def selu(x):
    return 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))


def reference_rollout(module, variables, x0, n_steps):
    """float64 NumPy: λ^(k+s) x0 (times the MLP gain for Varying), from the module's eigenvalues."""
    lam = np.asarray(module.apply(variables, method="get_eigenvalues"), np.complex128)
    s = 0 if module.prepend_ones else 1
    x = lam[None] ** (np.arange(n_steps)[:, None] + s) * np.asarray(x0, np.complex128)
    if isinstance(module, VARYING):
        h = np.abs(x) ** 2
        mlp = variables["params"]["model"]
        for i in range(len(mlp)):
            h = h @ np.asarray(mlp[f"Dense_{i}"]["kernel"], np.float64) + np.asarray(
                mlp[f"Dense_{i}"]["bias"]
            )
            h = selu(h) if i < len(mlp) - 1 else h
        x = x * (h[:, : module.d_hidden] + 1j * h[:, module.d_hidden :])
    return x


def set_eigs(module, variables, lam):
    return module.apply(variables, lam, method="set_eigenvalues", mutable=["params"])[1]


def push_outside(module, variables):
    """Parameters whose raw eigenvalues lie outside what the clamp allows (entries 0 and 1)."""
    params = dict(variables["params"])
    if isinstance(module, rec.LRUDynamics):
        params["nu_log"] = params["nu_log"].at[:2].set(jnp.log(jnp.array([1e-7, 1e-9])))
    elif isinstance(module, rec.DiscreteModalDynamics):
        params["real_imag"] = params["real_imag"].at[:2].set(jnp.array([[0.8, 0.9], [0.0, 0.0]]))
    else:
        params["magnitudes"] = params["magnitudes"].at[:2].set(jnp.array([1.3, -0.2]))
    return {"params": params}


# ----------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("cls", MODAL_CLASSES)
@pytest.mark.parametrize("prepend_ones", [False, True])
@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("outside", [False, True], ids=["inside", "clamped"])
def test_rollout_contract(cls, prepend_ones, clip, outside):
    module = make_modal(cls, d_hidden=8, prepend_ones=prepend_ones, clip=clip)
    x0 = random_state(jax.random.key(1), 8)
    n_steps = 60 if outside else 300  # unclipped |λ| > 1 grows; keep it finite
    variables = module.init(jax.random.key(0), x0, n_steps)
    if outside:
        variables = push_outside(module, variables)
    lam = module.apply(variables, method="get_eigenvalues")
    if outside and clip:  # the clamp bites, in get_eigenvalues as in the rollout
        bound = np.exp(-rec.LRU_CLIP) if cls in (rec.LRUDynamics, rec.LRUDynamicsVarying) else 1.0
        assert np.all(np.abs(lam[:2]) <= bound * (1 + 1e-6)) and np.all(
            np.abs(lam[:2]) >= rec.MIN_RADIUS * (1 - 1e-6)
        )
    out = module.apply(variables, x0, n_steps)
    assert out.shape == (n_steps, 8) and out.dtype == jnp.complex64
    ref = reference_rollout(module, variables, x0, n_steps)
    eps = np.finfo(np.float32).eps
    np.testing.assert_allclose(out, ref, atol=n_steps * eps * np.abs(ref).max(), rtol=0)
    if prepend_ones and not isinstance(module, VARYING):
        np.testing.assert_array_equal(out[0], x0)


@pytest.mark.parametrize("n_steps", [0, 1, 2, 3, 17, 64, 65, 1000])
def test_rollout_lengths(n_steps):
    """Every length, including non-squares and T = 0 (an empty (0, D) array)."""
    lam = jnp.asarray(random_disk(0, 6), jnp.complex64)
    x0 = random_state(jax.random.key(0), 6)
    for offset in (0, 1):
        out = rec.modal_rollout(lam, x0, n_steps, offset)
        assert out.shape == (n_steps, 6)
        ref = np.asarray(lam, np.complex128) ** (np.arange(n_steps)[:, None] + offset) * np.asarray(x0)
        np.testing.assert_allclose(out, ref, atol=max(n_steps, 1) * 4e-7, rtol=0)


@pytest.mark.parametrize("length", [1, 2, 63, 64, 200])
def test_both_ways_to_the_powers(length):
    """The CPU's sequential powers and the other backends' prefix product (not run on a CPU by
    modal_rollout, so checked here) are both start ⊙ base**j, against float64 NumPy."""
    base = jnp.asarray(random_disk(1, 6), jnp.complex64)
    start = random_state(jax.random.key(1), 6)
    ref = np.asarray(start, np.complex128) * np.asarray(base, np.complex128) ** np.arange(length)[:, None]
    for powers in (rec._powers_sequential, rec._powers_prefix):
        out = jax.jit(powers, static_argnums=2)(base, start, length)
        np.testing.assert_allclose(out, ref, atol=length * 4e-7 * np.abs(ref).max(), rtol=0)


def test_rollout_is_float64_in_x64(x64):
    """With float64 parameters the whole rollout is complex128, to 1e-10 of NumPy at T = 48000."""
    module = make_modal(rec.DiscreteModalDynamics, d_hidden=16, param_dtype=jnp.float64)
    x0 = random_state(jax.random.key(1), 16, jnp.float64)
    variables = module.init(jax.random.key(0), x0, 4)
    lam = random_disk(3, 16, 0.999, 1.0)
    variables = set_eigs(module, variables, lam)
    assert variables["params"]["real_imag"].dtype == jnp.float64
    out = module.apply(variables, x0, 48000)
    assert out.dtype == jnp.complex128
    ref = lam[None] ** np.arange(1, 48001)[:, None] * np.asarray(x0)
    np.testing.assert_allclose(out, ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("n_steps", [0, 1, 2, 17, 4000])
@pytest.mark.parametrize("offset", [0, 1])
def test_rollout_backward_matches_numpy(n_steps, offset):
    """The backward (JAX's transpose of the tangent rule), batched as in training (λ shared),
    against float64 NumPy sums: x0 gets Σ_k λ^(k+s) g_k, λ gets Σ_b x0_b Σ_k (k+s) λ^(k+s-1) g_bk
    (JAX's unconjugated VJP)."""
    lam = random_disk(4, 6, 0.9, 1.0)
    rng = np.random.default_rng(5)
    x0s = rng.standard_normal((3, 6)) + 1j * rng.standard_normal((3, 6))
    g = rng.standard_normal((3, n_steps, 6)) + 1j * rng.standard_normal((3, n_steps, 6))
    batched = jax.vmap(partial(rec.modal_rollout, n_steps=n_steps, offset=offset), (None, 0))
    _, vjp = jax.vjp(batched, jnp.asarray(lam, jnp.complex64), jnp.asarray(x0s, jnp.complex64))
    lam_bar, x0_bar = vjp(jnp.asarray(g, jnp.complex64))
    k = np.arange(n_steps)[:, None] + offset
    powers = lam[None] ** k  # (T, D)
    x0_ref = np.einsum("kd,bkd->bd", powers, g)
    lam_ref = np.einsum("bd,kd,bkd->d", x0s, k * lam[None] ** np.maximum(k - 1, 0), g)
    eps = np.finfo(np.float32).eps
    tol = 8 * n_steps * eps  # float32 rounding of sums of T terms, relative to the largest sum
    np.testing.assert_allclose(x0_bar, x0_ref, atol=tol * np.abs(x0_ref).max(), rtol=0)
    np.testing.assert_allclose(lam_bar, lam_ref, atol=tol * np.abs(lam_ref).max(), rtol=0)


def test_rollout_bad_arguments():
    lam, x0 = jnp.full(3, 0.5 + 0j), jnp.ones(3)
    with pytest.raises(ValueError, match="offset=2"):
        rec.modal_rollout(lam, x0, 4, 2)
    with pytest.raises(ValueError, match="n_steps=-1"):
        rec.modal_rollout(lam, x0, -1, 0)


@pytest.mark.parametrize("cls", MODAL_CLASSES)
def test_x64_dtypes_end_to_end(cls, x64):
    module = make_modal(cls, param_dtype=jnp.float64)
    x0 = random_state(jax.random.key(1), 8, jnp.float64)
    variables = module.init(jax.random.key(0), x0, 50)
    assert all(p.dtype == jnp.float64 for p in jax.tree.leaves(variables))
    assert module.apply(variables, method="get_eigenvalues").dtype == jnp.complex128
    out = module.apply(variables, x0, 50)
    assert out.dtype == jnp.complex128
    np.testing.assert_allclose(out, reference_rollout(module, variables, x0, 50), atol=1e-12, rtol=0)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("cls", LINEAR_CLASSES)
@pytest.mark.parametrize("clip", [False, True])
def test_set_get_round_trip(cls, clip):
    module = make_modal(cls, d_hidden=64, clip=clip)
    variables = module.init(jax.random.key(0), jnp.ones(64), 4)
    lam = random_disk(1, 64)
    if cls is rec.LRUDynamics:
        lam = ensure_upper(lam)  # the log-polar form holds arg λ ∈ [0, π]; see the conjugate test
    lam[0] = 1e-6 if cls is rec.DiscreteModalDynamicsAngleMag else lam[0]  # far inside, still representable
    got = module.apply(set_eigs(module, variables, lam), method="get_eigenvalues")
    np.testing.assert_allclose(got, lam, atol=4 * np.finfo(np.float32).eps, rtol=0)


def ensure_upper(lam):
    return np.where(lam.imag < 0, lam.conj(), lam)


@pytest.mark.parametrize("cls", [rec.DiscreteModalDynamics, rec.DiscreteModalDynamicsAngleMag])
def test_round_trip_outside_disk_without_clip(cls):
    """Unclipped real/imag and angle/magnitude forms represent any λ, unstable ones included."""
    module = make_modal(cls, d_hidden=4)
    variables = module.init(jax.random.key(0), jnp.ones(4), 4)
    lam = np.array([1.5j, -2.0, 0.3 - 0.4j, 1.0])
    got = module.apply(set_eigs(module, variables, lam), method="get_eigenvalues")
    np.testing.assert_allclose(got, lam, atol=4e-7, rtol=0)


def test_lru_stores_conjugates_and_keeps_the_real_signal():
    """Im λ < 0 is stored as conj(λ): |λ| and frequency stay; Re of the rollout stays for conj(x0)."""
    module = make_modal(rec.LRUDynamics, d_hidden=32)
    lam = random_disk(4, 32)
    assert np.any(lam.imag < 0)
    x0 = np.asarray(random_state(jax.random.key(2), 32), np.complex128)
    variables = set_eigs(module, module.init(jax.random.key(0), jnp.ones(32), 4), lam)
    got = np.asarray(module.apply(variables, method="get_eigenvalues"), np.complex128)
    tol = 4 * np.finfo(np.float32).eps
    np.testing.assert_allclose(got, ensure_upper(lam), atol=tol, rtol=0)  # what changes: the sign of Im
    np.testing.assert_allclose(np.abs(got), np.abs(lam), atol=tol)  # what stays: decay and frequency
    np.testing.assert_allclose(np.abs(np.angle(got)), np.abs(np.angle(lam)), atol=1e-5)
    # A real signal, Re of the state, is kept when x0 is conjugated alike: conj(λ^k x0) = conj(λ)^k conj(x0).
    x0_stored = np.where(lam.imag < 0, x0.conj(), x0)
    out = np.asarray(module.apply(variables, jnp.asarray(x0_stored, jnp.complex64), 200))
    ref = lam[None] ** np.arange(1, 201)[:, None] * x0
    np.testing.assert_allclose(out.real, ref.real, atol=200 * 1e-6)
    assert np.abs(out.imag - ref.imag).max() > 0.1  # the imaginary part does flip


def test_set_eigenvalues_under_jit():
    """Traced eigenvalues cannot be checked but are written all the same."""
    module = make_modal(rec.DiscreteModalDynamicsAngleMag, d_hidden=5, clip=True)
    variables = module.init(jax.random.key(0), jnp.ones(5), 4)
    lam = jnp.asarray(random_disk(5, 5), jnp.complex64)
    new = jax.jit(lambda v, e: set_eigs(module, v, e))(variables, lam)
    np.testing.assert_allclose(module.apply(new, method="get_eigenvalues"), lam, atol=1e-6)


@pytest.mark.parametrize(
    "cls, clip, lam, expected",
    [
        (rec.LRUDynamics, False, [0.5, 1.0], r"\[1\].*0 < \|λ\| < 1"),
        (rec.LRUDynamics, False, [0.0, 0.5], r"\[0\].*0 < \|λ\| < 1"),
        (rec.LRUDynamics, False, [2j, 0.5], r"\[0\].*\|λ\| = 2"),
        (rec.LRUDynamics, True, [0.5, 0.9999999], r"\[1\].*exp\(-LRU_CLIP\)"),
        (rec.DiscreteModalDynamics, True, [1.1, 0.5], r"\[0\].*MIN_RADIUS ≤ \|λ\| ≤ 1"),
        (rec.DiscreteModalDynamics, True, [0.5, 1e-9], r"\[1\].*MIN_RADIUS"),
        (rec.DiscreteModalDynamicsAngleMag, True, [0.5, -1.5j], r"\[1\].*MIN_RADIUS ≤ \|λ\| ≤ 1"),
    ],
)
def test_unrepresentable_eigenvalues_raise(cls, clip, lam, expected):
    module = make_modal(cls, d_hidden=2, clip=clip)
    variables = module.init(jax.random.key(0), jnp.ones(2), 4)
    with pytest.raises(ValueError, match=expected):
        set_eigs(module, variables, np.asarray(lam, np.complex64))


@pytest.mark.parametrize("cls", LINEAR_CLASSES)
def test_set_eigenvalues_wrong_count(cls):
    module = make_modal(cls, d_hidden=4)
    variables = module.init(jax.random.key(0), jnp.ones(4), 4)
    with pytest.raises(ValueError, match=r"eigenvalues has shape \(3,\): expected \(d_hidden,\) = \(4,\)"):
        set_eigs(module, variables, np.full(3, 0.5))


@pytest.mark.parametrize("cls", LINEAR_CLASSES)
def test_scale_dynamics(cls):
    """Pitch ×1.5 and decay radius ** 2, checked in polar form with NumPy."""
    module = make_modal(cls, d_hidden=16)
    variables = module.init(jax.random.key(0), jnp.ones(16), 4)
    lam = ensure_upper(random_disk(6, 16, 0.5, 0.99)) * np.exp(-0.3j)  # keep 1.5·arg within (0, π]
    lam = np.abs(lam) * np.exp(1j * np.clip(np.angle(lam), 0.01, 2.0))
    variables = set_eigs(module, variables, lam)
    new, changed = module.apply(variables, 1.5, 2.0, method="scale_dynamics", mutable=["params"])
    expected = np.abs(lam) ** 2 * np.exp(1.5j * np.angle(lam))
    np.testing.assert_allclose(new, expected, atol=1e-6)
    np.testing.assert_allclose(module.apply(changed, method="get_eigenvalues"), expected, atol=1e-6)


# ----------------------------------------------------------------------------- helpers


def test_constrain_to_unit_circle():
    z = jnp.array([0.3 + 0.4j, 3.0 - 4.0j, 0.0, 1e-10j, -1.0])
    out = rec.constrain_to_unit_circle(z)
    assert out[0] == z[0] and out[4] == z[4]  # inside (or on the circle): unchanged, bit for bit
    np.testing.assert_allclose(out[1], 0.6 - 0.8j, rtol=1e-6)  # clamped to |λ| = 1, angle kept
    np.testing.assert_allclose(out[2], rec.MIN_RADIUS, rtol=1e-6)  # 0 -> r_min at angle 0
    np.testing.assert_allclose(out[3], 1j * rec.MIN_RADIUS, rtol=1e-6)
    grads = jax.grad(lambda re: jnp.sum(jnp.abs(rec.constrain_to_unit_circle(re + 0.0j)) ** 2))(jnp.zeros(3))
    assert np.all(np.isfinite(grads))


def test_constrain_to_unit_circle_gradient_matches_finite_differences(x64):
    """Inside the disk the clamp is the identity, and so is its gradient."""
    weights = np.array([0.3 - 1.0j, -0.7 + 0.2j])

    def loss(re_im):
        z = rec.constrain_to_unit_circle(jax.lax.complex(re_im[0], re_im[1]))
        return jnp.sum(jnp.real(z * weights))

    point = np.array([[0.3, -0.5], [0.4, 0.1]])
    step, fd = 1e-6, np.zeros_like(point)
    for i in np.ndindex(point.shape):
        delta = np.zeros_like(point)
        delta[i] = step
        fd[i] = (loss(jnp.asarray(point + delta)) - loss(jnp.asarray(point - delta))) / (2 * step)
    np.testing.assert_allclose(jax.grad(loss)(jnp.asarray(point)), fd, atol=1e-8)


def test_ensure_positive_imaginary_parts_and_multiply_eigenvalues():
    z = np.array([1 - 2j, -3 + 1j, 2.0, -1j])
    np.testing.assert_array_equal(
        rec.ensure_positive_imaginary_parts(jnp.asarray(z)), [1 + 2j, -3 + 1j, 2, 1j]
    )
    got = rec.multiply_eigenvalues(jnp.asarray(z, jnp.complex64), 0.5, 3.0)
    np.testing.assert_allclose(got, np.abs(z) ** 3 * np.exp(0.5j * np.angle(z)), rtol=1e-6)


def test_initialisers():
    key = jax.random.key(0)
    radius = np.exp(-np.exp(rec.nu_init(key, (4000,), r_min=0.4, r_max=0.9)))
    assert radius.min() >= 0.4 - 1e-6 and radius.max() <= 0.9 + 1e-6
    # Uniform on the ring: |λ|² is uniform on [r_min², r_max²].
    np.testing.assert_allclose(np.mean(radius**2), (0.4**2 + 0.9**2) / 2, atol=0.01)
    phase = np.exp(rec.theta_init(key, (4000,), max_phase=2.0))
    assert phase.min() >= 0 and phase.max() < 2.0 and abs(phase.mean() - 1.0) < 0.05
    nu_log = jnp.log(jnp.array([0.5, 1e-4]))
    expected = np.log(np.sqrt(1 - np.exp(-2 * np.exp(np.asarray(nu_log, np.float64)))))
    np.testing.assert_allclose(rec.gamma_log_init(key, (nu_log, nu_log)), expected, rtol=1e-5)
    m = rec.matrix_init(key, (300, 300), normalization=10.0)
    assert abs(np.std(m) - 0.1) < 0.002
    u = rec.uniform_init(key, (1000,), -2.0, -1.0)
    assert u.min() >= -2.0 and u.max() < -1.0
    c = rec.init_complex(0.2, 0.5, 0.1, 1.0)(key, (1000,))
    ri = rec.init_real_imag(0.2, 0.5, 0.1, 1.0)(key, (1000,))
    assert c.shape == (1000,) and ri.shape == (1000, 2)
    np.testing.assert_allclose(ri[:, 0] + 1j * ri[:, 1], c, atol=1e-6)  # the same draw in two layouts
    assert np.abs(c).min() >= 0.2 - 1e-6 and np.abs(c).max() <= 0.5 + 1e-6
    assert np.angle(c).min() >= 0.1 - 1e-6 and np.angle(c).max() <= 1.0 + 1e-6


# ----------------------------------------------------------------------------- gradients, jit, vmap


@pytest.mark.parametrize("cls", MODAL_CLASSES)
@pytest.mark.parametrize("clip", [False, True])
def test_gradients_match_finite_differences(cls, clip, x64):
    smooth = {"model": MLP([8, 8], activation=nn.tanh, param_dtype=jnp.float64)} if cls in VARYING else {}
    module = make_modal(cls, d_hidden=4, clip=clip, param_dtype=jnp.float64, **smooth)  # selu has a kink at 0
    x0 = random_state(jax.random.key(1), 4, jnp.float64)
    variables = module.init(jax.random.key(0), x0, 40)

    def loss(params, x0):
        out = module.apply({"params": params}, x0, 40)
        return jnp.sum(jnp.cos(out.real) * out.imag)

    check_grads(loss, (variables["params"], x0), order=1, modes=["rev"], eps=1e-6, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("cls", MODAL_CLASSES)
def test_gradients_are_finite_in_float32(cls):
    module = make_modal(cls, d_hidden=16, clip=True)
    variables = module.init(jax.random.key(0), jnp.ones(16), 4000)
    grads = jax.grad(lambda p: jnp.mean(jnp.abs(module.apply({"params": p}, jnp.ones(16), 4000)) ** 2))(
        variables["params"]
    )
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("cls", MODAL_CLASSES)
def test_jit_and_batched_agree_with_eager_loop(cls):
    module = make_modal(cls, d_hidden=8, prepend_ones=True)
    xs = jax.vmap(lambda k: random_state(k, 8))(jax.random.split(jax.random.key(3), 5))  # (B, D)
    variables = module.init(jax.random.key(0), xs[0], 33)
    eager = np.stack([module.apply(variables, x, 33) for x in xs])
    atol = 1e-6 * np.abs(eager).max()  # float32 rounding of the smallest entries, relative to the largest
    jitted = jax.jit(module.apply, static_argnums=2)(variables, xs[0], 33)
    np.testing.assert_allclose(jitted, eager[0], rtol=1e-5, atol=atol)
    np.testing.assert_allclose(
        jax.vmap(module.apply, (None, 0, None))(variables, xs, 33), eager, rtol=1e-5, atol=atol
    )
    fields = {
        name: getattr(module, name) for name in module.__dataclass_fields__ if name not in ("parent", "name")
    }
    batched = BATCHED[cls](**fields)
    batched_vars = batched.init(jax.random.key(0), xs, 33)
    assert jax.tree.map(jnp.shape, batched_vars) == jax.tree.map(jnp.shape, variables)  # parameters shared
    out = jax.jit(batched.apply, static_argnums=2)(variables, xs, 33)
    assert out.shape == (5, 33, 8)
    np.testing.assert_allclose(out, eager, rtol=1e-5, atol=atol)


def test_nnx_bridge():
    """An NNX user wraps a linen module with nnx.bridge.ToNNX and gets the rollout of its parameters."""
    from flax import nnx

    module = make_modal(rec.LRUDynamics, d_hidden=8)
    x0 = jnp.ones(8)
    model = nnx.bridge.ToNNX(module, rngs=nnx.Rngs(0))
    nnx.bridge.lazy_init(model, x0, 20)
    out = model(x0, 20)
    leaves = jax.tree_util.tree_leaves_with_path(nnx.state(model, nnx.Param))
    param = {
        name: np.asarray(v, np.float64)
        for name in ("nu_log", "theta_log")
        for p, v in leaves
        if name in str(p)
    }
    lam = np.exp(-np.exp(param["nu_log"]) + 1j * np.exp(param["theta_log"]))
    np.testing.assert_allclose(out, lam[None] ** np.arange(1, 21)[:, None], atol=1e-5)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("cls", MODAL_CLASSES)
def test_bad_call_arguments(cls):
    module = make_modal(cls, d_hidden=4)
    variables = module.init(jax.random.key(0), jnp.ones(4), 4)
    with pytest.raises(ValueError, match=r"x has shape \(5,\): expected \(d_hidden,\) = \(4,\)"):
        module.apply(variables, jnp.ones(5), 4)
    with pytest.raises(ValueError, match=r"x has shape \(3, 4\).*Batched"):
        module.apply(variables, jnp.ones((3, 4)), 4)
    with pytest.raises(ValueError, match=r"n_steps=-1: expected an int ≥ 0"):
        module.apply(variables, jnp.ones(4), -1)
    for steps in (2.5, True, "3"):
        with pytest.raises((TypeError, ValueError), match="n_steps"):
            module.apply(variables, jnp.ones(4), steps)
    with pytest.raises(TypeError, match="static argument"):
        jax.jit(module.apply)(variables, jnp.ones(4), 4)
    assert module.apply(variables, jnp.ones(4), 0).shape == (0, 4)  # T = 0: an empty rollout


@pytest.mark.parametrize(
    "cls, overrides, expected",
    [
        (rec.LRUDynamics, dict(r_min=0.9, r_max=0.5), "r_min=0.9, r_max=0.5"),
        (rec.LRUDynamics, dict(r_min=-0.1), "r_min=-0.1"),
        (rec.LRUDynamics, dict(r_max=1.2), "r_max=1.2"),
        (rec.LRUDynamics, dict(max_phase=0.0), "max_phase=0.0"),
        (rec.LRUDynamics, dict(d_hidden=0), "d_hidden=0"),
        (rec.DiscreteModalDynamics, dict(r_min=0.9, r_max=0.5), "r_min=0.9, r_max=0.5"),
        (rec.DiscreteModalDynamics, dict(r_min=-0.5), "r_min=-0.5"),
        (rec.DiscreteModalDynamics, dict(min_phase=2.0, max_phase=1.0), "min_phase=2.0, max_phase=1.0"),
        (rec.DiscreteModalDynamicsAngleMag, dict(min_phase=2.0, max_phase=1.0), "min_phase=2.0"),
        (rec.DiscreteModalDynamicsAngleMag, dict(d_hidden=-3), "d_hidden=-3"),
    ],
)
def test_bad_fields(cls, overrides, expected):
    module = make_modal(cls, **{"d_hidden": 4, **overrides})
    with pytest.raises(ValueError, match=expected.replace("(", r"\(")):
        module.init(jax.random.key(0), jnp.ones(4), 4)


@pytest.mark.parametrize("cls", VARYING)
def test_varying_model_of_wrong_width(cls):
    """The spec's own example, d_hidden=64 with MLP([64, 64, 64]), gets a message saying 2*d_hidden."""
    module = make_modal(cls, d_hidden=64, model=MLP([64, 64, 64]))
    with pytest.raises(ValueError, match=r"model outputs 64 features: expected 2\*d_hidden = 128"):
        module.init(jax.random.key(0), jnp.ones(64), 50)


# ----------------------------------------------------------------------------- deep RNN


def test_deep_rnn_gru_matches_a_python_loop():
    """One layer: the GRU cell stepped by hand from the flattened x0 gives the same sequence."""
    W, C, T = 4, 2, 7
    model = rec.DeepRNN(d_model=W, d_vars=C, n_layers=0, cell=nn.GRUCell)
    x0 = jax.random.normal(jax.random.key(1), (W, C))
    x = jax.random.normal(jax.random.key(2), (T, W, C))
    variables = model.init(jax.random.key(0), x0, x)
    cell = nn.GRUCell(features=W * C)
    cell_params = {"params": variables["params"]["first_layer"]["cell"]}
    carry, outs = x0.reshape(-1), []
    for t in range(T):
        carry, y = cell.apply(cell_params, carry, x[t].reshape(-1))
        outs.append(y.reshape(W, C))
    np.testing.assert_allclose(model.apply(variables, x0, x), np.stack(outs), atol=1e-6)


@pytest.mark.parametrize("cell", [nn.GRUCell, nn.LSTMCell, nn.OptimizedLSTMCell, nn.MGUCell, nn.SimpleCell])
def test_batched_deep_rnn_every_cell(cell):
    B, T, W, C = 3, 6, 5, 2
    model = rec.BatchedDeepRNN(d_model=W, d_vars=C, n_layers=2, cell=partial(cell))
    x0 = jax.random.normal(jax.random.key(1), (B, W, C))
    x = jax.random.normal(jax.random.key(2), (B, T, W, C))
    variables = model.init(jax.random.key(0), x0, x)
    out = model.apply(variables, x0, x)
    assert out.shape == (B, T, W, C) and np.all(np.isfinite(out))
    single = rec.DeepRNN(d_model=W, d_vars=C, n_layers=2, cell=partial(cell))
    np.testing.assert_allclose(out[1], single.apply(variables, x0[1], x[1]), atol=1e-5)
    if "LSTM" in cell.__name__:  # x0 alone seeds h, with c = 0; a (c0, h0) pair sets both
        np.testing.assert_array_equal(out, model.apply(variables, (jnp.zeros_like(x0), x0), x))
        assert np.abs(out - model.apply(variables, (x0, x0), x)).max() > 1e-3


def test_physmodjax_gru_config_loads():
    """physmodjax's conf/model/1d_grurnn.yaml, field for field, reads a tree made without its extra fields."""
    config = dict(d_model=101, d_vars=2, n_layers=3, cell=nn.GRUCell, training=True, norm="layer")
    model = rec.BatchedDeepRNN(**config)
    plain = rec.BatchedDeepRNN(d_model=101, d_vars=2, n_layers=3, cell=nn.GRUCell)
    x0 = jax.random.normal(jax.random.key(1), (2, 101, 2))
    x = jnp.zeros((2, 5, 101, 2))
    variables = plain.init(jax.random.key(0), x0, x)
    assert set(variables["params"]) == {"first_layer", "layers_0", "layers_1", "layers_2"}
    assert jax.tree.structure(model.init(jax.random.key(0), x0, x)) == jax.tree.structure(variables)
    np.testing.assert_array_equal(model.apply(variables, x0, x), plain.apply(variables, x0, x))


def test_deep_rnn_bad_input():
    model = rec.DeepRNN(d_model=5, d_vars=2, n_layers=1, cell=nn.GRUCell)
    x0, x = jnp.ones((5, 2)), jnp.ones((6, 5, 2))
    variables = model.init(jax.random.key(0), x0, x)
    with pytest.raises(
        ValueError, match=r"x has shape \(6, 2, 5\): expected \(T, d_model, d_vars\) = \(T, 5, 2\)"
    ):
        model.apply(variables, x0, jnp.ones((6, 2, 5)))
    with pytest.raises(ValueError, match=r"x0 has shape \(10,\): expected \(d_model, d_vars\) = \(5, 2\)"):
        model.apply(variables, jnp.ones(10), x)
    with pytest.raises(ValueError, match="carry has 1"):
        model.apply(variables, (x0, x0), x)
    with pytest.raises(ValueError, match="n_layers=-1"):
        rec.DeepRNN(d_model=5, d_vars=2, n_layers=-1, cell=nn.GRUCell).init(jax.random.key(0), x0, x)


# ----------------------------------------------------------------------------- the spec's cells


@pytest.mark.slow
def test_spec_cells_unchanged():
    d_hidden, steps = 64, 50
    dyn = rec.LRUDynamics(
        d_hidden=d_hidden, r_min=0.99, r_max=1.0, max_phase=jnp.pi * 2, clip_eigs=False, prepend_ones=False
    )
    variables = dyn.init(jax.random.PRNGKey(0), jnp.ones(d_hidden), 50)
    assert dyn.apply(variables, jnp.ones((1, d_hidden)), 50).shape == (steps, d_hidden)

    B, T, W, C = 10, 50, 20, 3
    deep_rnn = rec.BatchedDeepRNN(d_model=W, d_vars=C, n_layers=2, cell=partial(nn.GRUCell))
    x, x0 = jnp.ones((B, T, W, C)), jnp.ones((B, W, C))
    variables = deep_rnn.init(jax.random.PRNGKey(65), x0, x)
    assert deep_rnn.apply(variables, x0, x).shape == (B, T, W, C)

    for cls, extra in [
        (rec.DiscreteModalDynamics, {}),
        (rec.DiscreteModalDynamicsVarying, {"model": MLP([64, 64, 20])}),
    ]:
        model = cls(
            d_hidden=10,
            clip=True,
            r_min=0.3,
            r_max=1,
            min_phase=0.01,
            max_phase=jnp.pi / 2,
            prepend_ones=False,
            **extra,
        )
        output, _ = model.init_with_output(jax.random.PRNGKey(0), jnp.ones((10,)), n_steps=100)
        assert output.shape == (100, 10)
