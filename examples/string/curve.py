"""The learning curve: validation error against the number of training plucks.

    python -m examples.string.curve --sizes=25,50,100 --workdir=DIR [--config=NAME] [--FIELD=VALUE ...]

For each size, train_and_evaluate trains every model of the configuration on the first that many
training plucks (nested subsets of one draw, the same validation plucks: `train_plucks`). Writes
DIR/<size>/<model>.json (the results files), DIR/curve.json ({model: [[size, validation rel. MSE,
training rel. MSE]]}, means over seeds) and DIR/curve.png.
"""

import dataclasses
import json
import logging
import sys
from pathlib import Path

import matplotlib
from absl import app, flags

from examples.string import configs, train
from examples.string.configs.base import define_flags, resolve
from examples.string.configs.default import Config
from examples.string.models import MODELS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

_CONFIG = define_flags(Config, configs.CONFIGS)
_SIZES = flags.DEFINE_list(
    "sizes", ["25", "50", "100", "200", "400", "800"], "Training plucks of each point."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Write the results files, curve.json and curve.png here.")
flags.mark_flag_as_required("workdir")


def learning_curve(config, sizes, workdir, log=train.LOG):
    """{model: [(size, validation rel. MSE, training rel. MSE)]}: train_and_evaluate at each size."""
    curve = {name: [] for name in config.models}
    for size in sizes:
        log(f"=== {size} training plucks")
        report = train.train_and_evaluate(
            dataclasses.replace(config, train_plucks=size), Path(workdir) / str(size), log=log
        )
        for result in report.results:
            curve[result["model"]].append((size, result["rel_mse"], result["train_rel_mse"]))
    return curve


def save_curve(path, curve):
    """Validation (solid) and training (dashed) relative MSE against the training plucks, log-log."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for i, (name, points) in enumerate(curve.items()):
        sizes, val, trained = zip(*points, strict=True)
        ax.loglog(sizes, val, "o-", color=f"C{i}", label=f"{name}, validation")
        ax.loglog(sizes, trained, "x--", color=f"C{i}", label=f"{name}, training")
    ax.set(xlabel="training plucks", ylabel="relative MSE", title="learning curve")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)
    train.full_precision()
    try:
        sizes = [int(s) for s in _SIZES.value]
        config = resolve(Config, configs.CONFIGS, _CONFIG.value, list(MODELS))
        if not all(0 < s <= config.train for s in sizes):
            raise ValueError(f"--sizes={','.join(_SIZES.value)}: expected sizes in 1..train={config.train}")
        curve = learning_curve(config, sizes, _WORKDIR.value)
    except ValueError as error:
        print(f"examples.string.curve: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"\n{'model':<12} {'plucks':>6} {'validation':>11} {'training':>11} {'gap':>6}")
    for name, points in curve.items():
        for size, val, trained in points:
            print(f"{name:<12} {size:>6} {val:>11.3e} {trained:>11.3e} {val / trained:>6.1f}")
    Path(_WORKDIR.value, "curve.json").write_text(json.dumps(curve, indent=1) + "\n")
    save_curve(Path(_WORKDIR.value) / "curve.png", curve)
    print(f"curve: {_WORKDIR.value}/curve.json, curve.png")


if __name__ == "__main__":
    app.run(main)
