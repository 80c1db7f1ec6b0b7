"""The learning curve: validation error against the number of training plucks.

    python -m examples.string.curve --sizes=25,50,100 --workdir=DIR [--config=NAME] [--FIELD=VALUE ...]

For each size, train_and_evaluate trains every model of the configuration on the first that many
training plucks (nested subsets of one draw, the same validation plucks: `train_plucks`). Writes
DIR/<size>/<model>.json (the results files), then DIR/curve.json ({model: [[size, validation rel.
MSE, training rel. MSE]]}, means over seeds) and DIR/curve.png from every size DIR holds, so that a
curve can be made in several runs.
"""

import json
from pathlib import Path

from absl import app, flags

from examples.string import cli, configs, input_pipeline, readme, train
from examples.string.configs.base import ConfigError, define_flags, resolve
from examples.string.configs.default import Config
from examples.string.figures import save_curve
from examples.string.models import MODELS

_CONFIG = define_flags(Config, configs.CONFIGS)
_SIZES = flags.DEFINE_list(
    "sizes", ["25", "50", "100", "200", "400", "800"], "Training plucks of each point."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Write the results files, curve.json and curve.png here.")
flags.mark_flag_as_required("workdir")


def main(argv):
    cli.opening(argv)
    with cli.one_line_errors("examples.string.curve"):
        config = resolve(Config, configs.CONFIGS, _CONFIG.value, list(MODELS))
        sizes = [int(s) for s in _SIZES.value if s.isdigit()]
        if len(sizes) < len(_SIZES.value) or not all(0 < s <= config.train for s in sizes):
            raise ConfigError(f"--sizes={','.join(_SIZES.value)}: expected sizes in 1..train={config.train}")
        train.learning_curve(config, input_pipeline.get_dataset, sizes, _WORKDIR.value)
    curve = {
        name: [point[:3] for point in points] for name, points in readme.curve_points(_WORKDIR.value).items()
    }
    print(f"\n{'model':<12} {'plucks':>6} {'validation':>11} {'training':>11} {'gap':>6}")
    for name, points in curve.items():
        for size, val, trained in points:
            print(f"{name:<12} {size:>6} {val:>11.3e} {trained:>11.3e} {val / trained:>6.1f}")
    Path(_WORKDIR.value, "curve.json").write_text(json.dumps(curve, indent=1) + "\n")
    save_curve(Path(_WORKDIR.value) / "curve.png", curve)
    print(f"curve: {_WORKDIR.value}/curve.json, curve.png")


if __name__ == "__main__":
    app.run(main)
