"""Shared fixtures: model factories, the float64 switch and the relative error."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

# Compile time is most of this suite's. Every program a test compiles (here and in every command a
# test runs, which inherits this environment) is built without LLVM's optimisation passes and, where
# this jaxlib still has them, with XLA's older CPU loop emitters in place of its fusion emitters:
# together about 40 % less time for the whole suite here. The arithmetic is the same operations,
# rounded as by any other compilation. (JAX's persistent cache is left off: with its size limit every
# write locks and lists the whole cache, which made CI twice as slow.) The README's run_checks
# command is tested as a user runs it, with XLA's defaults.
USER_ENV = dict(os.environ)
FAST_COMPILE = ["--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false"]


def known_flags(flags):
    """The XLA flags of `flags` that this jaxlib knows (it aborts on an unknown one): each tried once
    in a child process, in the first process of the run; its children inherit the answer."""
    known = os.environ.get("XLA_FLAGS", "").split()
    for flag in flags:
        if flag not in known:
            probe = [sys.executable, "-c", "import jax; jax.numpy.zeros(1).block_until_ready()"]
            env = dict(os.environ, XLA_FLAGS=" ".join([*known, flag]))
            if subprocess.run(probe, env=env, capture_output=True).returncode == 0:
                known.append(flag)
    return " ".join(known)


os.environ["XLA_FLAGS"] = known_flags(FAST_COMPILE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

import recurrent as rec  # noqa: E402
from mlp import MLP  # noqa: E402

# Property tests: a bounded, reproducible default for CI on this noisy machine (no deadline, fixed
# examples); `python -m pytest --hypothesis-profile=thorough` searches much longer.
settings.register_profile("ci", max_examples=20, derandomize=True, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=2000, deadline=None, print_blob=True)
settings.load_profile("ci")

# The tests hold the math to float64 references, so float32 products run at full precision on every
# backend, as in run_checks.py (NVIDIA GPUs default to TF32, about 1e-3).
jax.config.update("jax_default_matmul_precision", "highest")

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items):
    """The tests marked slow run first: pytest-xdist hands out one test at a time (pyproject's
    --maxschedchunk=1), so the long ones start early, the short ones fill in beside them, and no
    worker is left waiting on another's last long test. Also `-m "not slow"` for a quick pass."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def run_python(*args, env=None, timeout=300):
    """`python ARGS` run in the repository root, as a user runs a command: its output captured."""
    command = [sys.executable, *map(str, args)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


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


def string_config(**fields):
    """The string example's steel configuration, the milder data these tests were tuned on, with `fields`
    changed. Its plucks as they were then: widths exp(−½((x − m)/w)²) of w in (0.02, 0.1) are the
    generator's exp(−((x − m)/s)²) with s = √2 w."""
    from examples.string.configs import steel

    return dataclasses.replace(steel.get_config(), **{"width": (0.0283, 0.1414), **fields})


def plucks(n_plucks, seed=0, **fields):
    """(n_plucks, T, W, 2) frames of string_config(**fields), float32, from the generator `seed`."""
    from examples.string import input_pipeline

    return input_pipeline.make_plucks(string_config(**fields), n_plucks, np.random.default_rng(seed))


def recipe(seed=0, **fields):
    """A modal model's training recipe: the configuration's defaults, with `fields` changed."""
    from examples.string import models, train

    return train.recipe(models.MODELS["koopman"], string_config(**fields), seed)


def paper_plucks(n_plucks, seed=0, **fields):
    """(n_plucks, T, W, 2) frames of the paper's data set (the default configuration), `fields` changed."""
    from examples.string import input_pipeline
    from examples.string.configs import default

    config = dataclasses.replace(default.get_config(), **fields)
    return input_pipeline.make_plucks(config, n_plucks, np.random.default_rng(seed))


def string_model(name, d_hidden, features, **fields):
    """The string example's module for a model name, D = d_hidden, F = features."""
    from examples.string import models

    return models.MODELS[name].build(string_config(model_size=d_hidden, **fields), features)


def started(name, frames, seed=0, **fields):
    """(module, parameters) of a model name started on frames (N, T, W, C) as string_config(**fields)
    says (its init, model_size, ...), by its kind's start."""
    from examples.string import models

    kind, config = models.MODELS[name], string_config(**fields)
    model = kind.build(config, frames.shape[2] * frames.shape[3])
    model, params, _ = kind.start(model, frames, config, seed, {})
    return model, params
