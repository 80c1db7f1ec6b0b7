"""Learn a vibrating membrane with the string example's models and training loop.

    python -m examples.membrane [--config=default|nonlinear] [--FIELD=VALUE ...]

Data: Gaussian 2D plucks at rest (1–10 mm) of the authors' membrane (`physics.py`), u on an
Nx × Ny grid flattened to W points: the string's (T, W, C) layout, so its models, DMD start, loop
(`examples.string.train.train_and_evaluate`), seeds, JSON, audio (--audio: the velocity at the
pickup) and synthesis speed apply unchanged. The configuration (configs/) holds every setting,
one field each, and each field is a flag that overrides it (`--help` lists them).
"""

import json
import time
from pathlib import Path

from absl import app, flags

from examples.membrane import configs, input_pipeline, physics
from examples.membrane.configs.default import Config
from examples.membrane.figures import save_figure
from examples.string import cli, results, train
from examples.string.audio import time_synthesis, write_audio
from examples.string.configs.base import define_flags, resolve
from examples.string.models import MODELS

_CONFIG = define_flags(Config, configs.CONFIGS)
_WORKDIR = flags.DEFINE_string("workdir", None, "Write one results file per model here (<model>.json).")
_JSON = flags.DEFINE_string("json", None, "Write the table to this JSON file.")
_FIGURE = flags.DEFINE_string("figure", None, "Save the figure here.")
_AUDIO = flags.DEFINE_string("audio", None, "Write WAVs of validation plucks and an index.html here.")
_AUDIO_PLUCKS = flags.DEFINE_integer(
    "audio_plucks", 4, "Validation plucks written by --audio.", lower_bound=1
)


def main(argv):
    cli.opening(argv)
    start = time.perf_counter()
    with cli.one_line_errors("examples.membrane"):
        config = resolve(Config, configs.CONFIGS, _CONFIG.value, list(MODELS))
        report = train.train_and_evaluate(config, input_pipeline.get_dataset(config), _WORKDIR.value)
    if config.speed:
        time_synthesis(report)
        for result in report.results if _WORKDIR.value else ():
            results.write(_WORKDIR.value, config, report.dataset, result, report.commit)
    data = report.dataset
    print(
        f"membrane, {config.membrane}: {len(data.train)} train / {len(data.val)} validation, "
        f"(T, W, C) = {data.train.shape[1:]}"
    )
    results.print_table(report.results)
    if _JSON.value:
        record = dict(
            membrane=config.membrane,
            fs=config.fs,
            n_steps=config.samples,
            points=config.points,
            pitch=config.pitch,
            results=report.results,
        )
        Path(_JSON.value).write_text(json.dumps(record, indent=1))
    preds = {run.name: run.pred for run in report.first()}
    if _FIGURE.value:
        learned = {
            **{run.name: run.eigenvalues for run in report.first() if run.eigenvalues is not None},
            "true": physics.discrete_eigenvalues(physics.MEMBRANE, config.fs, config.modes),
        }
        save_figure(
            _FIGURE.value, data.val[0], {n: p[0] for n, p in preds.items()}, config.points, config.fs, learned
        )
        print(f"figure: {_FIGURE.value}")
    if _AUDIO.value:
        k = _AUDIO_PLUCKS.value
        if _FIGURE.value:
            Path(_AUDIO.value).mkdir(parents=True, exist_ok=True)
            (Path(_AUDIO.value) / "figure.png").write_bytes(Path(_FIGURE.value).read_bytes())
        where = f"x, y = {config.pickup[0]:g}, {config.pickup[1]:g} of the membrane"
        figure = "figure.png" if _FIGURE.value else None
        write_audio(
            _AUDIO.value,
            data.val[:k],
            {n: p[:k] for n, p in preds.items()},
            config.fs,
            data.point,
            figure,
            where,
        )
        print(f"audio: {_AUDIO.value}/index.html")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    app.run(main)
