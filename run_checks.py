"""Check that every model works on this machine, in this JAX, before spending GPU hours.

    python run_checks.py --device=gpu

Prints a header (versions, backend, devices, dtype), one row per check (name, PASS/FAIL, max error
against its tolerance, seconds) and a last line `N passed, N failed`. Exit status: 0 when all
pass, 1 when any fails, 2 for a usage or device error. References are float64 NumPy, finite
differences and per-example loops, never the code's own output.

Every check verifies the math, so it runs with matrix products at full precision
(`jax.default_matmul_precision("highest")`); its tolerance is derived from the dtype's eps. The
backend's default can be coarser (TF32, about 10 mantissa bits, for float32 on NVIDIA GPUs since
Ampere): the header measures it and prints it, since that is what training will see.
"""

import logging
import sys
import time
from functools import partial

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import jax.test_util
import jaxlib
import numpy as np
from absl import app, flags
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import recurrent as rec
from mlp import MLP

_DEVICE = flags.DEFINE_enum("device", "cpu", ["cpu", "gpu", "tpu"], "Backend to run on.")
_D_HIDDEN = flags.DEFINE_integer("d_hidden", 32, "Complex state size D of the modal models.", lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", 256, "Rollout length T.", lower_bound=1)
_BATCH = flags.DEFINE_integer(
    "batch", 4, "Batch size B (rounded up to a multiple of the device count).", lower_bound=1
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of parameters, states and eigenvalues.")
_X64 = flags.DEFINE_bool("x64", False, "float64 parameters and complex128 states; tolerances follow.")
_NUM_DEVICES = flags.DEFINE_integer(
    "num_devices",
    None,
    "With --device=cpu: simulate this many CPU devices (for the sharding check).",
    lower_bound=1,
)
_CHECKS = flags.DEFINE_list("checks", None, "Comma-separated subset of checks to run; default all.")

INSTALL = {
    "gpu": 'pip install -U "jax[cuda12]" (NVIDIA; see the JAX install guide for ROCm), and check nvidia-smi',
    "tpu": 'pip install -U "jax[tpu]" on a TPU VM',
}
W, C = 6, 2  # DeepRNN grid points and state variables


class Setup:
    """Sizes, dtypes and tolerances shared by the checks."""

    def __init__(self):
        self.d, self.steps, self.seed = _D_HIDDEN.value, _STEPS.value, _SEED.value
        self.batch = -(-_BATCH.value // jax.device_count()) * jax.device_count()
        self.dtype = jnp.float64 if _X64.value else jnp.float32
        self.eps = float(jnp.finfo(self.dtype).eps)

    def key(self, i):
        return jax.random.fold_in(jax.random.key(self.seed), i)

    def modal(self, cls, prepend_ones=False, clip=False, activation=nn.selu):
        if issubclass(cls, rec.LRUDynamics):
            kwargs = dict(r_min=0.9, r_max=0.999, max_phase=np.pi, clip_eigs=clip)
        else:
            kwargs = dict(clip=clip, r_min=0.5, r_max=0.999, min_phase=0.0, max_phase=np.pi)
        if cls in VARYING:
            kwargs["model"] = MLP([32, 2 * self.d], activation=activation, param_dtype=self.dtype)
        return cls(d_hidden=self.d, prepend_ones=prepend_ones, param_dtype=self.dtype, **kwargs)

    def state(self, i, shape):
        re, im = jax.random.normal(self.key(i), (2, *shape), self.dtype)
        return jax.lax.complex(re, im)

    def disk(self, i, upper_half=False):
        """Eigenvalues drawn inside the unit disk, r in [0.05, 0.999)."""
        rng = np.random.default_rng([self.seed, i])
        phase = rng.uniform(0 if upper_half else -np.pi, np.pi, self.d)
        return rng.uniform(0.05, 0.999, self.d) * np.exp(1j * phase)


LINEAR = [rec.LRUDynamics, rec.DiscreteModalDynamics, rec.DiscreteModalDynamicsAngleMag]
VARYING = [rec.LRUDynamicsVarying, rec.DiscreteModalDynamicsVarying]
BATCHED = {
    rec.LRUDynamics: rec.BatchedLRUDynamics,
    rec.LRUDynamicsVarying: rec.BatchedLRUDynamicsVarying,
    rec.DiscreteModalDynamics: rec.BatchedDiscreteModalDynamics,
    rec.DiscreteModalDynamicsVarying: rec.BatchedDiscreteModalDynamicsVarying,
    rec.DiscreteModalDynamicsAngleMag: rec.BatchedDiscreteModalDynamicsAngleMag,
}


def batched_twin(module):
    """The Batched* form of a modal module, with the same fields."""
    fields = {
        name: getattr(module, name) for name in module.__dataclass_fields__ if name not in ("parent", "name")
    }
    return BATCHED[type(module)](**fields)


def numpy_powers(lam, x0, steps, offset):
    """float64 reference: λ^(k + offset) x0, k = 0 .. steps-1."""
    lam = np.asarray(lam, np.complex128)
    return lam[None] ** (np.arange(steps)[:, None] + offset) * np.asarray(x0, np.complex128)


def relative(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-30))


# ----------------------------------------------------------------------------- checks
# Each returns (max error, tolerance); the check passes when error ≤ tolerance.


def check_shapes(s):
    """Every model for the flag sizes, batched and not, and the spec's own configurations.

    Shapes only, so traced with jax.eval_shape; the other checks run every model for real.
    """
    failures = 0

    def shape(module, *arrays, n_steps=None):
        static = () if n_steps is None else (n_steps,)  # traced arguments must be arrays
        variables = jax.eval_shape(lambda *a: module.init(s.key(0), *a, *static), *arrays)
        return jax.eval_shape(lambda v, *a: module.apply(v, *a, *static), variables, *arrays).shape

    for cls in LINEAR + VARYING:
        module = s.modal(cls)
        failures += shape(module, s.state(0, (s.d,)), n_steps=s.steps) != (s.steps, s.d)
        failures += shape(batched_twin(module), s.state(2, (s.batch, s.d)), n_steps=s.steps) != (
            s.batch,
            s.steps,
            s.d,
        )
    for cell in (nn.GRUCell, nn.LSTMCell):
        rnn = rec.BatchedDeepRNN(d_model=W, d_vars=C, n_layers=1, cell=cell)
        x0, x = jnp.ones((s.batch, W, C), s.dtype), jnp.ones((s.batch, 8, W, C), s.dtype)
        failures += shape(rnn, x0, x) != (s.batch, 8, W, C)
    lru = rec.LRUDynamics(
        d_hidden=64, r_min=0.99, r_max=1.0, max_phase=2 * np.pi, clip_eigs=False, prepend_ones=False
    )
    failures += shape(lru, jnp.ones((1, 64)), n_steps=50) != (50, 64)
    for cls, extra in [
        (rec.DiscreteModalDynamics, {}),
        (rec.DiscreteModalDynamicsVarying, {"model": MLP([64, 20])}),
    ]:
        module = cls(
            d_hidden=10,
            clip=True,
            r_min=0.3,
            r_max=1,
            min_phase=0.01,
            max_phase=np.pi / 2,
            prepend_ones=False,
            **extra,
        )
        failures += shape(module, jnp.ones(10), n_steps=100) != (100, 10)
    rnn = rec.BatchedDeepRNN(d_model=20, d_vars=3, n_layers=2, cell=partial(nn.GRUCell))
    failures += shape(rnn, jnp.ones((10, 20, 3)), jnp.ones((10, 50, 20, 3))) != (10, 50, 20, 3)
    return float(failures), 0.0


def check_round_trip(s):
    """set_eigenvalues -> get_eigenvalues returns λ, for the three parameterisations, clip on and off."""
    error = 0.0
    for i, cls in enumerate(LINEAR):
        for clip in (False, True):
            module = s.modal(cls, clip=clip)
            variables = module.init(s.key(i), jnp.ones(s.d, s.dtype), 4)
            lam = s.disk(i, upper_half=cls is rec.LRUDynamics)  # the log-polar form holds arg λ ∈ [0, π]
            _, new = module.apply(variables, lam, method="set_eigenvalues", mutable=["params"])
            got = module.apply(new, method="get_eigenvalues")
            error = max(error, float(np.abs(np.asarray(got) - lam).max()))
    return error, 8 * s.eps


def check_contract(s):
    """out[k] == λ**(k+s) x0 against float64 NumPy, prepend_ones and clip both ways."""
    error = 0.0
    for i, cls in enumerate(LINEAR):
        x0 = s.state(i, (s.d,))
        variables = s.modal(cls).init(s.key(i), x0, 4)  # the flags below do not change the parameters
        for prepend_ones in (False, True):
            for clip in (False, True):
                module = s.modal(cls, prepend_ones, clip)
                lam = module.apply(variables, method="get_eigenvalues")
                ref = numpy_powers(lam, x0, s.steps, 0 if prepend_ones else 1)
                error = max(error, relative(module.apply(variables, x0, s.steps), ref))
    return error, 4 * s.steps * s.eps


def check_gradients(s):
    """Gradients are finite and match central differences along a random direction (small size)."""
    error, steps = 0.0, 32
    step = 1e-3 if s.dtype == jnp.float32 else 1e-6
    for i, cls in enumerate(LINEAR + VARYING):
        module = s.modal(
            cls, clip=True, activation=nn.tanh
        )  # selu's slope jumps at 0: no use for differences
        x0 = s.state(i, (s.d,))
        params = module.init(s.key(i), x0, steps)["params"]
        target = s.state(i + 100, (steps, s.d))

        def loss(p, module=module, x0=x0, target=target):
            return jnp.mean(jnp.abs(module.apply({"params": p}, x0, steps) - target) ** 2)

        loss = jax.jit(loss)
        grads = jax.jit(jax.grad(loss))(params)
        if not all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads)):
            return float("inf"), 0.0
        direction = jax.tree.map(lambda p, k=i: jax.random.normal(s.key(k + 200), p.shape, p.dtype), params)
        shifted = [jax.tree.map(lambda p, v, h=h: p + h * v, params, direction) for h in (step, -step)]
        numeric = (loss(shifted[0]) - loss(shifted[1])) / (2 * step)
        analytic = sum(
            jnp.vdot(g, v) for g, v in zip(jax.tree.leaves(grads), jax.tree.leaves(direction), strict=True)
        )
        error = max(error, float(abs(numeric - analytic) / max(abs(analytic), 1e-12)))
    return error, 2e-2 if s.dtype == jnp.float32 else 1e-6


def check_forward_mode(s):
    """Forward mode and second order: jax.test_util.check_grads(order=2, modes=["fwd", "rev"])
    passes on the rollout, and for every class the Hessian-vector product by forward-over-reverse
    (jvp of grad) matches central differences of the reverse-mode gradient (the error reported).
    Without clip: magic_clamp's estimator depends on the cotangent's sign, so has no forward mode."""
    error, steps = 0.0, 16
    step = float(s.eps) ** (1 / 3) / steps  # central differences; the phase moves steps times faster
    tolerance = 2e-2 if s.dtype == jnp.float32 else 1e-6
    lam = jnp.asarray(s.disk(0), s.state(0, ()).dtype)
    try:
        jax.test_util.check_grads(
            jax.jit(partial(rec.modal_rollout, n_steps=steps, offset=1)),
            (lam, s.state(1, (s.d,))),
            2,
            ["fwd", "rev"],
            atol=tolerance,
            rtol=tolerance,
            eps=step,
        )
    except AssertionError:
        return float("inf"), tolerance
    for i, cls in enumerate(LINEAR + VARYING):
        module = s.modal(cls, activation=nn.tanh)
        x0 = s.state(i, (s.d,))
        params = module.init(s.key(i), x0, steps)["params"]
        target = s.state(i + 100, (steps, s.d))

        def loss(p, module=module, x0=x0, target=target):
            return jnp.mean(jnp.abs(module.apply({"params": p}, x0, steps) - target) ** 2)

        grad = jax.jit(jax.grad(loss))
        direction = jax.tree.map(lambda p, k=i: jax.random.normal(s.key(k + 200), p.shape, p.dtype), params)
        hvp = jax.jit(lambda p, v, grad=grad: jax.jvp(grad, (p,), (v,))[1])(params, direction)
        shifted = [grad(jax.tree.map(lambda p, v, h=h: p + h * v, params, direction)) for h in (step, -step)]
        numeric = jax.tree.map(lambda a, b: (a - b) / (2 * step), *shifted)
        flat = [np.concatenate([np.ravel(x) for x in jax.tree.leaves(t)]) for t in (hvp, numeric)]
        error = max(error, relative(*flat))
    return error, tolerance


def check_jit_and_batch(s):
    """jit equals eager, and the batched module equals a loop over examples."""
    error = 0.0
    for i, cls in enumerate(LINEAR + VARYING):
        module = s.modal(cls, prepend_ones=True)
        xs = s.state(i, (s.batch, s.d))
        variables = module.init(s.key(i), xs[0], s.steps)
        eager = module.apply(variables, xs[0], s.steps)
        single = jax.jit(module.apply, static_argnums=2)
        loop = np.stack([single(variables, x, s.steps) for x in xs])
        batched = jax.jit(batched_twin(module).apply, static_argnums=2)(variables, xs, s.steps)
        error = max(error, relative(loop[0], eager), relative(batched, loop))
    return error, 64 * s.eps


def check_deep_rnn(s):
    """GRU and LSTM DeepRNN: batched equals per example, outputs finite, LSTM x0 seeds h (c = 0)."""
    error, steps = 0.0, 16
    for cell in (nn.GRUCell, nn.LSTMCell):
        model = rec.BatchedDeepRNN(d_model=W, d_vars=C, n_layers=2, cell=partial(cell, param_dtype=s.dtype))
        single = rec.DeepRNN(d_model=W, d_vars=C, n_layers=2, cell=partial(cell, param_dtype=s.dtype))
        x0 = jax.random.normal(s.key(1), (s.batch, W, C), s.dtype)
        x = jax.random.normal(s.key(2), (s.batch, steps, W, C), s.dtype)
        variables = model.init(s.key(3), x0, x)
        out = model.apply(variables, x0, x)
        if not np.all(np.isfinite(out)):
            return float("inf"), 0.0
        step = jax.jit(single.apply)
        loop = np.stack([step(variables, a, b) for a, b in zip(x0, x, strict=True)])
        error = max(error, relative(out, loop))
        if cell is nn.LSTMCell:
            error = max(error, relative(out, model.apply(variables, (jnp.zeros_like(x0), x0), x)))
    return error, 64 * s.eps


def check_sharding(s):
    """The batched rollout with its batch sharded over all devices equals the one-device result."""
    module = s.modal(rec.DiscreteModalDynamics)
    batched = batched_twin(module)
    xs = s.state(0, (s.batch, s.d))
    variables = module.init(s.key(0), xs[0], s.steps)
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    sharded = jax.device_put(xs, NamedSharding(mesh, PartitionSpec("batch")))
    out = jax.jit(batched.apply, static_argnums=2)(variables, sharded, s.steps)
    one_device = jax.jit(batched.apply, static_argnums=2)(
        variables, jax.device_put(xs, jax.devices()[0]), s.steps
    )
    devices_used = {shard.device for shard in out.addressable_shards if shard.data.shape[0] < s.batch}
    spread = len(devices_used) == jax.device_count() or jax.device_count() == 1
    return (relative(out, one_device) if spread else float("inf")), 8 * s.eps


CHECKS = {
    "shapes": check_shapes,
    "round_trip": check_round_trip,
    "contract": check_contract,
    "gradients": check_gradients,
    "forward_mode": check_forward_mode,
    "jit_and_batch": check_jit_and_batch,
    "deep_rnn": check_deep_rnn,
    "sharding": check_sharding,
}


# ----------------------------------------------------------------------------- driver


def usage_error(message):
    """One line on stderr, exit status 2, no traceback."""
    print(f"run_checks: {message}", file=sys.stderr)
    sys.exit(2)


def parse_flags(argv):
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        usage_error(f"{error} (see --helpfull)")


def select_device():
    """Configure JAX for --device before any computation; exit 2 with one line if it is missing."""
    device = _DEVICE.value
    if _NUM_DEVICES.value is not None:
        if device != "cpu":
            usage_error(
                f"--num_devices simulates CPU devices: use it with --device=cpu, not --device={device}"
            )
        jax.config.update("jax_num_cpu_devices", _NUM_DEVICES.value)
    if device != "gpu":  # "gpu" keeps JAX's own choice, which covers CUDA and ROCm builds
        jax.config.update("jax_platforms", device)
    if _X64.value:
        jax.config.update("jax_enable_x64", True)
    logging.getLogger("jax").setLevel(logging.WARNING)  # a missing backend is reported once, below
    try:
        backend = jax.default_backend()
    except RuntimeError as error:
        backend = f"none ({str(error).split(' (set JAX_PLATFORMS')[0]})"
    if backend != device:
        usage_error(
            f"--device={device} but JAX {jax.__version__} has backend {backend}; {INSTALL.get(device)}"
        )


def default_matmul_error(dtype):
    """Relative error of a (256, 256) matrix product at the backend's default precision, against
    float64 NumPy: about eps of the dtype at full precision, about 1e-3 with TF32."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 256, 256))
    product = np.asarray(jnp.asarray(a, dtype) @ jnp.asarray(b, dtype), np.float64)
    exact = np.asarray(a, dtype).astype(np.float64) @ np.asarray(b, dtype).astype(np.float64)
    return float(np.abs(product - exact).max() / np.abs(exact).max())


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}", exitcode=2)
    names = _CHECKS.value or list(CHECKS)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise app.UsageError(
            f"--checks: unknown {', '.join(unknown)}; known: {', '.join(CHECKS)}", exitcode=2
        )
    select_device()
    s = Setup()
    print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, flax {flax.__version__}")
    print(f"backend {jax.default_backend()}, {jax.device_count()} device(s): {jax.devices()}")
    print(f"dtype {np.dtype(s.dtype).name}, d_hidden {s.d}, steps {s.steps}, batch {s.batch}, seed {s.seed}")
    matmul_error = default_matmul_error(s.dtype)
    precision = jax.config.jax_default_matmul_precision or "backend default"
    print(
        f"matmul precision {precision}: {np.dtype(s.dtype).name} product error {matmul_error:.1e} "
        f"(eps {s.eps:.1e}); the checks run at 'highest'"
    )
    print(f"{'check':<14} {'result':<6} {'max error':>10} {'tolerance':>10} {'seconds':>8}")
    failed = 0
    for name in names:
        start = time.perf_counter()
        try:
            with jax.default_matmul_precision("highest"):
                error, tolerance = CHECKS[name](s)
            note = ""
        except Exception as exc:  # a crashing check is a failing check; the rest still run
            error, tolerance = float("nan"), 0.0
            note = f"  {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        passed = error <= tolerance
        failed += not passed
        seconds = time.perf_counter() - start
        result = "PASS" if passed else "FAIL"
        print(f"{name:<14} {result:<6} {error:>10.2e} {tolerance:>10.2e} {seconds:>8.2f}{note}", flush=True)
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
