"""Every JAX differentiation transform on the rollout and on every modal class, against a plain
lax.scan rollout that JAX differentiates by itself in float64, and against finite differences."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import MODAL_CLASSES, make_modal
from jax.flatten_util import ravel_pytree
from jax.test_util import check_grads
from test_recurrent import BATCHED, random_disk

import recurrent as rec


def scan_rollout(eigenvalues, x0, n_steps, offset):
    """The reference: one multiply per step, differentiated by JAX itself."""
    dtype = jnp.result_type(eigenvalues, x0, jnp.complex64)
    lam, x0 = jnp.asarray(eigenvalues, dtype), jnp.asarray(x0, dtype)

    def step(power, _):
        return power * lam, power

    return jax.lax.scan(step, lam if offset else jnp.ones_like(lam), length=n_steps)[1] * x0


def scalar(y):
    """A nonlinear scalar of the features, so that second derivatives are not trivially zero."""
    return jnp.sum(jnp.sin(y) * jnp.cos(0.3 * jnp.arange(y.size, dtype=y.dtype)))


TRANSFORMS = {
    "jvp": lambda f, v, t: jax.jvp(f, (v,), (t,))[1],
    "linearize": lambda f, v, t: jax.linearize(f, v)[1](t),
    "jacfwd": lambda f, v, t: jax.jacfwd(f)(v),
    "jacrev": lambda f, v, t: jax.jacrev(f)(v),
    "hessian": lambda f, v, t: jax.hessian(lambda u: scalar(f(u)))(v),
    "jacfwd_jacfwd": lambda f, v, t: jax.jacfwd(jax.jacfwd(lambda u: scalar(f(u))))(v),
    "jvp_of_grad": lambda f, v, t: jax.jvp(jax.grad(lambda u: scalar(f(u))), (v,), (t,))[1],
    "grad_of_grad": lambda f, v, t: jax.grad(lambda u: jnp.vdot(jax.grad(lambda w: scalar(f(w)))(u), t))(v),
}


def all_transforms(f, theta, tangent):
    """Every transform of f at theta, in one jitted program (one compilation)."""
    return jax.jit(lambda v, t: {name: transform(f, v, t) for name, transform in TRANSFORMS.items()})(
        theta, tangent
    )


def model_features(cls, dtype, n_steps=12, batch=2, d_hidden=4):
    """f(θ): the batched model's output at flat parameters θ, as real features; θ0 and x0s."""
    module = make_modal(BATCHED[cls], d_hidden, param_dtype=dtype)
    x0s = jax.random.normal(jax.random.key(1), (batch, d_hidden)).astype(dtype)  # same values in both
    theta, unravel = ravel_pytree(module.init(jax.random.key(0), x0s, n_steps)["params"])

    def f(theta):
        out = module.apply({"params": unravel(theta)}, x0s.astype(theta.dtype), n_steps)
        return jnp.concatenate([out.real.ravel(), out.imag.ravel()])

    return f, theta


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("cls", MODAL_CLASSES, ids=lambda c: c.__name__)
def test_every_transform_on_every_model(cls, dtype, x64, monkeypatch):
    """Batched (vmap) model under jit, every transform, against the lax.scan rollout in float64."""
    f, theta = model_features(cls, dtype)
    tangent = jnp.cos(jnp.arange(theta.size, dtype=dtype))
    ours = all_transforms(f, theta, tangent)
    monkeypatch.setattr(rec, "modal_rollout", scan_rollout)
    f_ref, _ = model_features(cls, jnp.float64)
    theta64, tangent64 = theta.astype(jnp.float64), tangent.astype(jnp.float64)
    eps = np.finfo(dtype).eps
    refs = all_transforms(f_ref, theta64, tangent64)
    for name, ref in refs.items():
        scale = np.abs(ref).max()
        np.testing.assert_allclose(ours[name], ref, atol=2000 * eps * scale, rtol=0, err_msg=name)


@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("n_steps", [1, 7, 45])
def test_rollout_check_grads_both_modes(n_steps, offset, x64):
    """Finite differences to second order, forward and reverse, in float64."""
    lam = jnp.asarray(random_disk(6, 4, 0.5, 1.0))
    x0 = jnp.asarray(random_disk(7, 4, 0.5, 2.0))
    eps = np.finfo(np.float64).eps
    check_grads(
        jax.jit(lambda lam, x0: rec.modal_rollout(lam, x0, n_steps, offset)),
        (lam, x0),
        order=2,
        modes=["fwd", "rev"],
        eps=eps ** (1 / 3),  # central differences: truncation and rounding balance here
        atol=1e4 * eps ** (2 / 3),
        rtol=1e4 * eps ** (2 / 3),
    )


def test_transforms_under_vmap_of_the_rollout(x64):
    """jacfwd and jacrev in (Re λ, Im λ), vmapped over a batch of x0, against the lax.scan reference."""
    lam = random_disk(8, 5, 0.5, 1.0)
    v = jnp.asarray(np.concatenate([lam.real, lam.imag]))
    x0s = jnp.asarray(np.stack([random_disk(s, 5, 0.5, 2.0) for s in range(3)]))

    def features(rollout, v, x0):
        out = rollout(v[:5] + 1j * v[5:], x0, 33, 1)
        return jnp.concatenate([out.real.ravel(), out.imag.ravel()])

    for transform in (jax.jacfwd, jax.jacrev):
        ours = jax.vmap(transform(lambda v, x0: features(rec.modal_rollout, v, x0)), (None, 0))(v, x0s)
        ref = jax.vmap(transform(lambda v, x0: features(scan_rollout, v, x0)), (None, 0))(v, x0s)
        np.testing.assert_allclose(ours, ref, atol=1e-12 * np.abs(ref).max(), rtol=0)


def test_backward_reads_the_cotangent_once():
    """In the compiled backward, one instruction reads the cotangent and none writes an array of its
    size: a later change that reads it twice, or materialises a product with it, fails here."""
    batch, n_steps, d = 2, 4000, 8  # M = 64 chunks: longer than CPU_SUM_LIMIT
    lam = jnp.asarray(random_disk(1, d, 0.9, 1.0), jnp.complex64)
    x0s = jnp.ones((batch, d), jnp.complex64)
    g = jnp.ones((batch, n_steps, d), jnp.complex64)
    rollout = jax.vmap(lambda lam, x0: rec.modal_rollout(lam, x0, n_steps, 1), (None, 0))
    backward = jax.jit(lambda lam, x0s, g: jax.vjp(rollout, lam, x0s)[1](g))
    text = backward.lower(lam, x0s, g).compile().as_text()
    entry = text[text.index("\nENTRY") :].split("\n}")[0].splitlines()[1:]
    name = next(
        re.match(r"\s*(?:ROOT )?(%\S+) = .*parameter\(2\)", line)[1]
        for line in entry
        if "parameter(2)" in line
    )
    readers = [
        line for line in entry if "=" in line and re.search(re.escape(name) + r"[,)]", line.split("=", 1)[1])
    ]
    assert len(readers) == 1, readers
    for line in entry:
        shape = re.match(r"\s*(?:ROOT )?%\S+ = c64\[([\d,]*)\]", line)
        if shape and "parameter(" not in line and shape[1]:
            size = np.prod([int(n) for n in shape[1].split(",")])
            assert size < g.size, line
