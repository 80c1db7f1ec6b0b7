"""Learn a vibrating string: modal (Koopman) models, a Varying model and a GRU on the same plucks.

    python -m examples.string [--config=default|nonlinear|steel|random] [--FIELD=VALUE ...]

Run it as a module from the repository root. The configuration (configs/) holds every setting, one
field each, and each field is a flag that overrides it (`--help` lists them); train.py's
`train_and_evaluate` trains and scores every model of it, and `--shifts` scores them beyond their
training plucks (shifts.py). Outputs: the table on stdout, --json
(the table), --workdir (one results file per model), --save / --load (trained models), --figure,
--audio (what a pickup hears, and a page to listen to it), --curves, --save_data.
"""

import json
import time
from pathlib import Path

import numpy as np
from absl import app, flags

from examples.string import checkpoints, cli, configs, input_pipeline, readme, results, shifts, train
from examples.string.audio import time_synthesis, write_audio
from examples.string.configs.base import define_flags, resolve
from examples.string.configs.default import Config
from examples.string.figures import save_figure
from examples.string.models import MODELS

_CONFIG = define_flags(Config, configs.CONFIGS)
_WORKDIR = flags.DEFINE_string("workdir", None, "Write one results file per model here (<model>.json).")
_JSON = flags.DEFINE_string("json", None, "Write the table to this JSON file.")
_SAVE = flags.DEFINE_string("save", None, "Write every trained model and the configuration here.")
_LOAD = flags.DEFINE_string("load", None, "Evaluate the models saved in this directory; no training.")
_FIGURE = flags.DEFINE_string("figure", None, "Save the figure here.")
_AUDIO = flags.DEFINE_string("audio", None, "Write WAVs of validation plucks and an index.html here.")
_AUDIO_PLUCKS = flags.DEFINE_integer(
    "audio_plucks", 4, "Validation plucks written by --audio.", lower_bound=1
)
_CURVES = flags.DEFINE_string(
    "curves", None, "Write each model's validation curve [[s, step, rel MSE]] here."
)
_SAVE_DATA = flags.DEFINE_string(
    "save_data", None, "Write the simulated plucks to this .npz (u, v, fs) and stop."
)


def main(argv):
    cli.opening(argv)
    start = time.perf_counter()
    with cli.one_line_errors("examples.string"):
        checkpoint = checkpoints.load(_LOAD.value, "string") if _LOAD.value else None
        config = resolve(
            Config,
            configs.CONFIGS,
            _CONFIG.value,
            list(MODELS),
            checkpoint and checkpoint.config,
            _LOAD.value,
        )
        if _SAVE_DATA.value:
            frames = input_pipeline.make_plucks(
                config, config.train + config.val + config.test, np.random.default_rng(config.data_seed)
            )
            np.savez(_SAVE_DATA.value, u=frames[..., 0], v=frames[..., 1], fs=config.fs)
            print(f"data: {_SAVE_DATA.value}")
            return
        shifts.check(config)
        dataset = input_pipeline.get_dataset(config, checkpoint.scale if checkpoint else None)
        if checkpoint:
            checkpoint.check_data(dataset.description)
        report = train.train_and_evaluate(config, dataset, _WORKDIR.value, checkpoint)
    if config.speed:
        time_synthesis(report)
    longer = None, {}
    if config.shifts:
        longer = shifts.score(config, report)
    for result in report.results if _WORKDIR.value and (config.speed or config.shifts) else ():
        results.write(_WORKDIR.value, config, report.dataset, result, report.commit)
    data = report.dataset
    n_train = (
        f"{len(data.train) // 2} train (and each mirrored)" if data.mirrored else f"{len(data.train)} train"
    )
    print(
        f"data {data.name}: {n_train} / {len(data.val)} validation / {data.n_test} test "
        f"(unused), (T, W, C) = {data.train.shape[1:]} ({config.channels}), fs {data.fs:g} Hz"
    )
    results.print_table(report.results, readme.paper_mse(config))
    shifts.print_shifts(report.results)
    for result in report.results:
        if "frequency_error_seeds" in result:
            worst = ", ".join(f"{e:.3%}" for e in result["frequency_error_seeds"])
            print(
                f"{result['model']}: largest frequency error over the modes with ≥ 1 % of the energy: {worst}"
            )
    if _SAVE.value:
        checkpoints.save(_SAVE.value, "string", config, report)
        print(f"checkpoint: {_SAVE.value}")
    write_outputs(report)
    if _FIGURE.value and longer[0] is not None:
        path = Path(_FIGURE.value).with_suffix(".longer.png")
        shifts.save_figure(path, report.results, *longer, data.fs)
        print(f"figure: {path}")
    print(f"total {time.perf_counter() - start:.0f} s")


def write_outputs(report):
    """--json, --curves, --figure and --audio, those asked for."""
    data = report.dataset
    if _JSON.value:
        record = {"string": data.name, "fs": data.fs, "n_steps": data.val.shape[1], "results": report.results}
        Path(_JSON.value).write_text(json.dumps(record, indent=1))
    if _CURVES.value:
        curves = {f"{run.name}/{run.seed}": run.curve for run in report.runs if run.curve is not None}
        Path(_CURVES.value).write_text(json.dumps(curves))
    preds = {run.name: run.pred for run in report.first()}
    eigenvalues = {run.name: run.eigenvalues for run in report.first() if run.eigenvalues is not None}
    figure = {n: p[0] for n, p in preds.items()}, data.val[0], data.fs, data.true_eigenvalues, eigenvalues
    if _FIGURE.value:
        save_figure(_FIGURE.value, *figure)
        print(f"figure: {_FIGURE.value}")
    if _AUDIO.value:
        Path(_AUDIO.value).mkdir(parents=True, exist_ok=True)
        save_figure(Path(_AUDIO.value) / "figure.png", *figure)
        preds = {n: p[: _AUDIO_PLUCKS.value] for n, p in preds.items()}
        write_audio(_AUDIO.value, data.val[: _AUDIO_PLUCKS.value], preds, data.fs, data.point, "figure.png")
        print(f"audio: {_AUDIO.value}/index.html")


if __name__ == "__main__":
    app.run(main)
