"""Trained models kept on disk: orbax-checkpoint for the parameters, a JSON config for the rest.

A checkpoint directory holds config.json (the run's configuration, the data's description and
normalisation, the module fields each model's start set and the table the run printed) and one
orbax checkpoint of parameters per model and seed, `<model>/seed<s>`. Loading rebuilds each model from the
configuration and restores its parameters against the shapes of the freshly built model: a
directory that is not a checkpoint, or one from another model or data, raises CheckpointError with
one line saying what does not match.
"""

import dataclasses
import json
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from examples.string.configs.base import ConfigError

# Version 1 stored the flags, not the configuration; version 2 Koopman_var's power scales, not the
# module fields of every model's start.
FORMAT = "examples checkpoint, version 3"


class CheckpointError(ConfigError):
    """What does not match, in one line."""


class Checkpoint(NamedTuple):
    """A checkpoint as train.train_and_evaluate evaluates it."""

    directory: str
    config: dict  # the configuration's fields
    scale: list  # the data's normalisation, per channel
    data: dict  # the data's description (the input pipeline's)
    fields: dict  # name -> the module fields its start set (ModelKind.saved), of each seed
    seconds: dict  # name -> training seconds of each seed
    stopped_at: dict  # name -> the step at which the budget stopped each seed, or None
    results: list  # the table the run that saved it printed

    def check_data(self, current):
        """CheckpointError naming the first entry of the data description that differs."""
        for key, value in current.items():
            if self.data.get(key) != value:
                raise CheckpointError(
                    f"--load={self.directory}: data {key} is {value!r} here, {self.data.get(key)!r} in the "
                    "checkpoint"
                )

    def params(self, name, seed, target):
        """The parameters of (name, seed), restored against target's shapes: `restore`."""
        return restore(self.directory, name, seed, target)


def save(directory, example, config, report):
    """Write a train_and_evaluate Report's models (every seed) and config.json under `directory`, a
    checkpoint of `example` (its name)."""
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    checkpointer = ocp.StandardCheckpointer()
    fields = {}
    for run in report.runs:
        checkpointer.save(directory / run.name / f"seed{run.seed}", jax.device_get(run.params), force=True)
        fields.setdefault(run.name, []).append({f: getattr(run.model, f) for f in run.kind.saved})
    checkpointer.wait_until_finished()
    record = dict(
        format=FORMAT,
        example=example,
        config=dataclasses.asdict(config),
        scale=np.asarray(report.dataset.scale).tolist(),
        data=report.dataset.description,
        fields=fields,
        seconds={r["model"]: r["train_seconds_seeds"] for r in report.results},
        stopped_at={r["model"]: r["stopped_at_seeds"] for r in report.results},
        results=report.results,
    )
    (directory / "config.json").write_text(json.dumps(record, indent=1))


def load(directory, example):
    """The Checkpoint in `directory`, or CheckpointError in one line."""
    path = Path(directory) / "config.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CheckpointError(f"--load={directory}: no readable config.json: not a checkpoint") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        if isinstance(record, dict) and "checkpoint, version" in str(record.get("format", "")):
            raise CheckpointError(
                f"--load={directory}: written by an earlier version of the examples ({record['format']}): "
                "train it again with --save"
            )
        raise CheckpointError(
            f"--load={directory}: config.json is not a checkpoint of the examples ({FORMAT})"
        )
    if record["example"] != example:
        raise CheckpointError(
            f"--load={directory}: a checkpoint of examples.{record['example']}, not {example}"
        )
    keys = ("config", "scale", "data", "fields", "seconds", "stopped_at", "results")
    return Checkpoint(str(directory), *(record[k] for k in keys))


def restore(directory, name, seed, target):
    """The parameters of (name, seed), restored against `target`'s shapes and dtypes."""
    path = Path(directory).absolute() / name / f"seed{seed}"
    if not path.is_dir():
        raise CheckpointError(f"--load={directory}: no parameters for {name}, seed {seed}")
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), target)
    try:
        params = ocp.StandardCheckpointer().restore(path, abstract)
    except (ValueError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"--load={directory}: {name} seed {seed} does not match this model: {first}"
        ) from None
    # orbax restores what was saved; a tree or shape other than the model's is caught here.
    saved = dict(jax.tree_util.tree_leaves_with_path(params))
    for key, leaf in jax.tree_util.tree_leaves_with_path(abstract):
        found = saved.get(key)
        if found is None or found.shape != leaf.shape:
            shape = "missing" if found is None else f"shape {found.shape}"
            raise CheckpointError(
                f"--load={directory}: {name} seed {seed} does not match this model: "
                f"{jax.tree_util.keystr(key)} is {shape}, expected {leaf.shape}"
            )
    if len(saved) != len(jax.tree.leaves(abstract)):
        raise CheckpointError(
            f"--load={directory}: {name} seed {seed} does not match this model: other parameters"
        )
    return params
