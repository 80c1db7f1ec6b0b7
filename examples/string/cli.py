"""The command-line shell the examples share (string, membrane, the learning curve): the opening of
`main`, and one line and exit 2 for the project's own errors (a bad setting, data file or checkpoint:
ConfigError), while any other exception keeps its traceback, so that a bug is seen."""

import logging
import sys
from contextlib import contextmanager

import jax
from absl import app
from absl import logging as absl_logging

from examples.string.configs.base import ConfigError


def opening(argv):
    """Reject stray arguments, quieten JAX's and orbax's logs, full-precision products."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)  # no note about backends this machine lacks
    absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every step of a save
    full_precision()


@contextmanager
def one_line_errors(program):
    """A ConfigError inside becomes one line on stderr, `program: message`, and exit status 2."""
    try:
        yield
    except ConfigError as error:
        print(f"{program}: {error}", file=sys.stderr)
        sys.exit(2)


def full_precision():
    """Full float32 matrix products for every model of the examples, on every backend: the DMD start
    cancels large encoder entries, which the TF32 products of NVIDIA GPUs (the backend's default,
    about 10 bits) turn into a start loss of 5.7e3 (1.4 on a CPU). A CPU's products already are."""
    jax.config.update("jax_default_matmul_precision", "highest")
