"""Rollout speed and accuracy, side by side in one run: the project's rollout against the spec's.

    python bench.py [--device=gpu] [--x64] [--json=bench.json]
    python bench.py --string_steps   # the string example's training step instead

Methods, all computing out[b, k] = λ^(k+1) x0[b] for shared λ (D,) and x0 (B, D):
  spec     the spec's jnp.repeat + lax.associative_scan (re-implemented here as the baseline)
  scan     lax.scan, one multiply per step
  closed   the closed form exp(k log λ)
  vjp      the project's previous rollout: the same forward, with a hand-written backward (a
           jax.custom_vjp, reverse mode only); the reference the project's backward is held to
  project  recurrent.BatchedDiscreteModalDynamics, i.e. recurrent.modal_rollout (every AD mode)
  floor    XLA broadcasting x0 into an output of the same shape: the memory-bound floor of the
           forward; and summing an array of the cotangent's size over T, reading it once: the floor
           of forward+backward, which must read the cotangent
For each: compile seconds (forward+backward), forward ms and forward+backward ms (median of
--repeats; backward is the VJP of a fixed cotangent for λ and x0), output GB/s, fraction of the
floor's forward time, forward+backward's fraction of its own floor, speedup over the spec,
forward+backward over the hand-written VJP's (the target is ≤ 1.1 for the project), and max
abs error against float64 NumPy for the same λ and x0. A Varying model and a GRU DeepRNN are timed
as context. The ratios depend on the machine (its memory speed above all): the header names it.

--string_steps times the string example's training step instead (`bench_string_steps`): run it in
two checkouts to compare their code (docs/performance.md).
"""

import dataclasses
import json
import math
import os
import platform
import time
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from einops import rearrange

import recurrent as rec
from mlp import MLP

_DEVICE = flags.DEFINE_enum("device", "cpu", ["cpu", "gpu", "tpu"], "Backend to run on.")
_D_HIDDEN = flags.DEFINE_integer("d_hidden", 256, "Complex state size D.", lower_bound=1)
_SIZES = flags.DEFINE_list("sizes", ["8x4000", "1x48000"], "Batch x steps pairs, BxT.")
_REPEATS = flags.DEFINE_integer("repeats", 7, "Timed runs per measurement (median reported).", lower_bound=1)
_X64 = flags.DEFINE_bool("x64", False, "float64 parameters, complex128 states.")
_CONTEXT = flags.DEFINE_bool("context", True, "Also time a Varying model and a GRU DeepRNN.")
_JSON = flags.DEFINE_string("json", None, "Write the numbers to this JSON file.")
_STRING_STEPS = flags.DEFINE_bool(
    "string_steps", False, "Instead, time the string example's training step, per configuration and model."
)


def spec_rollout(lam, x0, n_steps):
    """The spec: a complex associative_scan over T copies of λ."""
    return jax.lax.associative_scan(jnp.multiply, jnp.repeat(lam[None], n_steps, axis=0)) * x0


def scan_rollout(lam, x0, n_steps):
    def step(x, _):
        x = x * lam
        return x, x

    return jax.lax.scan(step, x0, length=n_steps)[1]


def closed_rollout(lam, x0, n_steps):
    k = jnp.arange(1, n_steps + 1, dtype=lam.real.dtype)[:, None]
    return jnp.exp(k * jnp.log(lam)) * x0


def powers(base, start, length):
    """start ⊙ base**j for j < length: (length, D), as recurrent.py builds them (a sequential scan on
    a CPU, a parallel prefix product elsewhere)."""

    def step(power, _):
        return power * base, power

    def prefix():
        factors = jnp.concatenate([start[None], jnp.broadcast_to(base, (length - 1, *base.shape))])
        return jax.lax.associative_scan(jnp.multiply, factors)

    return jax.lax.platform_dependent(
        cpu=lambda: jax.lax.scan(step, start, length=length, unroll=4)[1], default=prefix
    )


def expand(outer, inner, x0, n_steps):
    """Rows outer[m] · inner[l] · x0, k = mL + l < T: one fused outer product."""
    return rearrange(outer[:, None, :] * inner[None, :, :], "m l d -> (m l) d")[:n_steps] * x0


def _vjp_factors(lam, n_steps):
    """outer (M, D) = λ^(mL + 1), inner (L, D) = λ^l, L = ⌈√T⌉: the previous split of the powers."""
    chunk = math.isqrt(max(n_steps - 1, 0)) + 1
    inner = powers(lam, jnp.ones_like(lam), chunk)
    return powers(inner[-1] * lam, lam, -(-n_steps // chunk)), inner


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def vjp_rollout(lam, x0, n_steps):
    """The previous recurrent.modal_rollout (offset 1): reverse mode only, backward by hand."""
    return expand(*_vjp_factors(lam, n_steps), x0, n_steps)


def _vjp_rollout_fwd(lam, x0, n_steps):
    factors, d_factors = jax.jvp(lambda v: _vjp_factors(v, n_steps), (lam,), (jnp.ones_like(lam),))
    return expand(*factors, x0, n_steps), (factors, d_factors, x0)


def _vjp_rollout_bwd(n_steps, residuals, cotangent):
    """x0 gets Σ_k P_k g_k, λ gets x0 Σ_k P'_k g_k: both sums over m in one variadic reduction."""
    (outer, inner), (d_outer, d_inner), x0 = residuals
    n_chunks, chunk = outer.shape[0], inner.shape[0]
    g = jnp.pad(cotangent, ((0, n_chunks * chunk - n_steps), (0, 0)))
    g = rearrange(g, "(m l) d -> m l d", l=chunk)
    zero = jnp.zeros((), g.dtype)
    total, d_total = jax.lax.reduce(
        (outer[:, None, :] * g, d_outer[:, None, :] * g),
        (zero, zero),
        lambda a, b: (a[0] + b[0], a[1] + b[1]),
        (0,),
    )  # (L, D) each
    return x0 * jnp.sum(inner * d_total + d_inner * total, axis=0), jnp.sum(inner * total, axis=0)


vjp_rollout.defvjp(_vjp_rollout_fwd, _vjp_rollout_bwd)


def project_rollout(real_imag, x0s, n_steps, d_hidden):
    module = rec.BatchedDiscreteModalDynamics(
        d_hidden=d_hidden, prepend_ones=False, clip=False, r_min=0.0, r_max=1.0, min_phase=0.0, max_phase=1.0
    )
    return module.apply({"params": {"real_imag": real_imag}}, x0s, n_steps)


def batched(rollout):
    """(real_imag (D, 2), x0s (B, D), T) -> (B, T, D), λ shared across the batch."""

    def run(real_imag, x0s, n_steps):
        lam = jax.lax.complex(real_imag[:, 0], real_imag[:, 1])
        return jax.vmap(rollout, (None, 0, None))(lam, x0s.astype(lam.dtype), n_steps)

    return run


def floor_fill(real_imag, x0s, n_steps):
    dtype = jax.lax.complex(real_imag[:, 0], real_imag[:, 1]).dtype
    return jnp.broadcast_to(x0s.astype(dtype)[:, None, :], (x0s.shape[0], n_steps, x0s.shape[1]))


def floor_read(cotangent):
    return jnp.sum(cotangent, axis=1)


def processor():
    """The accelerator's name, or on CPU the processor's model name as Linux reports it."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        return device.device_kind
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor() or 'CPU'}, {os.cpu_count()} cores"


def median_ms(fn, *args):
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(_REPEATS.value):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def measure(fn, args, cotangent=None, reference=None):
    """Compile seconds of forward+backward, forward ms, forward+backward ms, and the forward's max
    abs error against `reference` when given (from the same compiled forward that was timed)."""
    forward = jax.jit(fn)
    row = {"forward_ms": median_ms(forward, *args)}
    if reference is not None:
        row["max_abs_error"] = float(np.abs(np.asarray(forward(*args)) - reference).max())
    if cotangent is not None:

        def forward_backward(cotangent, *a):
            return jax.vjp(fn, *a)[1](cotangent)

        # The cotangent is an argument, not a closed-over constant XLA would copy into the program.
        start = time.perf_counter()
        compiled = jax.jit(forward_backward).lower(cotangent, *args).compile()
        row["compile_s"] = time.perf_counter() - start
        row["forward_backward_ms"] = median_ms(compiled, cotangent, *args)
    return row


def reference(real_imag, x0s, n_steps):
    """float64 NumPy: running products λ^k, k = 1..T, times x0."""
    lam = np.asarray(real_imag, np.float64) @ np.array([1, 1j])
    powers = np.cumprod(np.broadcast_to(lam, (n_steps, lam.size)), axis=0)
    return powers[None] * np.asarray(x0s, np.complex128)[:, None, :]


def bench_size(batch, n_steps, d, dtype):
    rng = np.random.default_rng(0)
    # String-like modes: radii near 1 (slow decay, where rounding accumulates), phases over (0, π).
    lam = rng.uniform(0.999, 1.0, d) * np.exp(1j * rng.uniform(0, np.pi, d))
    real_imag = jnp.asarray(np.stack([lam.real, lam.imag], -1), dtype)
    x0s = jax.lax.complex(*jnp.asarray(rng.standard_normal((2, batch, d)), dtype))
    cotangent = jax.lax.complex(*jnp.asarray(rng.standard_normal((2, batch, n_steps, d)), dtype))
    ref = reference(real_imag, x0s, n_steps)
    out_bytes = batch * n_steps * d * jnp.dtype(cotangent.dtype).itemsize
    methods = {
        "spec": partial(batched(spec_rollout), n_steps=n_steps),
        "scan": partial(batched(scan_rollout), n_steps=n_steps),
        "closed": partial(batched(closed_rollout), n_steps=n_steps),
        "vjp": partial(batched(vjp_rollout), n_steps=n_steps),
        "project": partial(project_rollout, n_steps=n_steps, d_hidden=d),
        "floor": partial(floor_fill, n_steps=n_steps),
    }
    rows = {}
    for name, fn in methods.items():
        timed = name != "floor"  # the floor has no backward and no error to speak of
        row = measure(fn, (real_imag, x0s), cotangent if timed else None, ref if timed else None)
        row["gb_per_s"] = out_bytes / row["forward_ms"] / 1e6
        rows[name] = row
    rows["floor"]["forward_backward_ms"] = median_ms(jax.jit(floor_read), cotangent)
    for name, row in rows.items():
        row["floor_fraction"] = rows["floor"]["forward_ms"] / row["forward_ms"]
        row["fb_floor_fraction"] = rows["floor"]["forward_backward_ms"] / row["forward_backward_ms"]
        if name != "floor":
            row["speedup_forward"] = rows["spec"]["forward_ms"] / row["forward_ms"]
            row["speedup_forward_backward"] = rows["spec"]["forward_backward_ms"] / row["forward_backward_ms"]
            row["forward_backward_of_vjp"] = row["forward_backward_ms"] / rows["vjp"]["forward_backward_ms"]
    return rows


def bench_context(batch, n_steps, d, dtype):
    """A Varying model and a GRU DeepRNN of comparable size: timing only."""
    rows = {}
    varying = rec.BatchedLRUDynamicsVarying(
        d_hidden=d,
        prepend_ones=True,
        r_min=0.99,
        r_max=1.0,
        max_phase=np.pi,
        clip_eigs=True,
        model=MLP([64, 2 * d], param_dtype=dtype),
        param_dtype=dtype,
    )
    x0s = jnp.ones((batch, d), dtype)
    params = varying.init(jax.random.key(0), x0s, n_steps)["params"]
    cotangent = jnp.ones((batch, n_steps, d), jnp.result_type(dtype, jnp.complex64))
    rows["varying"] = measure(lambda p, x: varying.apply({"params": p}, x, n_steps), (params, x0s), cotangent)
    width, channels = 50, 2  # W·C = 100 GRU features
    rnn = rec.BatchedDeepRNN(
        d_model=width, d_vars=channels, n_layers=1, cell=partial(nn.GRUCell, param_dtype=dtype)
    )
    x0, x = jnp.ones((batch, width, channels), dtype), jnp.zeros((batch, n_steps, width, channels), dtype)
    params = rnn.init(jax.random.key(0), x0, x)["params"]
    rows["deep_rnn_gru"] = measure(
        lambda p, a: rnn.apply({"params": p}, a, x), (params, x0), jnp.ones_like(x)
    )
    return rows


COLUMNS = [  # header, key, format
    ("compile s", "compile_s", ".2f"),
    ("fwd ms", "forward_ms", ".3g"),
    ("fwd+bwd ms", "forward_backward_ms", ".3g"),
    ("GB/s", "gb_per_s", ".2f"),
    ("of floor", "floor_fraction", ".2f"),
    ("f+b of flr", "fb_floor_fraction", ".2f"),
    ("fwd x spec", "speedup_forward", ".2f"),
    ("f+b x spec", "speedup_forward_backward", ".2f"),
    ("f+b / vjp", "forward_backward_of_vjp", ".2f"),
    ("max abs err", "max_abs_error", ".1e"),
]


# (configuration, sample rate) of the string example whose training steps --string_steps times.
STRING_CONFIGS = (("default", 4000.0), ("nonlinear", 4000.0), ("nonlinear", 16000.0), ("scratch", 4000.0))


def bench_string_steps(n_steps=81):
    """{"<configuration> <fs> Hz, <model>, D=<D>": ms a step} of the string example's train.train, its
    whole loop (the batch drawn on the host and moved, the step), each configuration's recipe with
    whole windows, on synthetic frames of the paper's shape (48 plucks, T = 4000, W = 101, u): the
    time from its second log line (step 5, compiled) to its last (step n_steps), per step."""
    from examples.string import models, train  # the example's requirements (optax), only here
    from examples.string.configs import CONFIGS

    frames = np.random.default_rng(0).standard_normal((48, 4000, 101, 1)).astype(np.float32)
    rows = {}
    for name, fs in STRING_CONFIGS:
        config = dataclasses.replace(CONFIGS[name](), fs=fs)
        for model_name in ("koopman", "koopman_var"):
            kind = models.MODELS[model_name]
            model, params, _ = models.random_start(kind.build(config, frames.shape[2]), frames, config, 0)
            recipe = train.recipe(kind, config, 0)
            recipe = dataclasses.replace(recipe, steps=n_steps, window=0)
            key = f"{name} {fs:.0f} Hz, {model_name}, D={model.d_hidden}"
            rows[key] = step_ms(train.train, model, params, frames, recipe)
    return rows


def step_ms(train, model, params, frames, recipe):
    """ms a step of train(...): from its second log line (compiled) to its last."""
    stamps = []  # (seconds, step) at each log line

    def log(line):
        stamps.append((time.perf_counter(), int(line.split()[1].split("/")[0])))

    train(model, params, frames, recipe, log=log)
    (start, first), (end, last) = stamps[1], stamps[-1]
    return 1e3 * (end - start) / (last - first)


def print_table(title, rows):
    print(f"\n{title}")
    print(f"{'method':<13}" + "".join(f"{header:>12}" for header, _, _ in COLUMNS))
    for name, row in rows.items():
        cells = (format(row[key], fmt) if key in row else "–" for _, key, fmt in COLUMNS)
        print(f"{name:<13}" + "".join(f"{cell:>12}" for cell in cells))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    sizes = []
    for size in _SIZES.value:
        try:
            batch, n_steps = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise app.UsageError(f"--sizes: {size!r} is not BxT, e.g. 8x4000") from None
        sizes.append((batch, n_steps))
    if _DEVICE.value != "gpu":
        jax.config.update("jax_platforms", _DEVICE.value)
    if _X64.value:
        jax.config.update("jax_enable_x64", True)
    if jax.default_backend() != _DEVICE.value:
        raise app.UsageError(f"--device={_DEVICE.value} but JAX's backend is {jax.default_backend()}")
    dtype = jnp.float64 if _X64.value else jnp.float32
    if _STRING_STEPS.value:
        print(f"jax {jax.__version__}, backend {jax.default_backend()}, {processor()}")
        rows = bench_string_steps()
        print(f"\n{'string example, training step':<40}{'ms':>8}{'steps/s':>9}")
        for key, ms in rows.items():
            print(f"{key:<40}{ms:>8.1f}{1e3 / ms:>9.0f}")
        if _JSON.value:
            with open(_JSON.value, "w") as f:
                json.dump(
                    {"jax": jax.__version__, "processor": processor(), "string_steps_ms": rows}, f, indent=1
                )
        return
    print(
        f"jax {jax.__version__}, backend {jax.default_backend()}, {processor()}, "
        f"dtype {np.dtype(dtype).name}, D={_D_HIDDEN.value}, median of {_REPEATS.value}"
    )
    results = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "processor": processor(),
        "dtype": np.dtype(dtype).name,
        "sizes": {},
    }
    for batch, n_steps in sizes:
        rows = bench_size(batch, n_steps, _D_HIDDEN.value, dtype)
        if _CONTEXT.value:
            rows.update(bench_context(batch, n_steps, _D_HIDDEN.value, dtype))
        print_table(f"B={batch}, T={n_steps}, D={_D_HIDDEN.value}", rows)
        results["sizes"][f"{batch}x{n_steps}"] = rows
    if _JSON.value:
        with open(_JSON.value, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    app.run(main)
