"""Trained models kept on disk: orbax-checkpoint for the parameters, a JSON config for the rest.

A checkpoint directory holds config.json (the models' names and sizes, the data's description and
normalisation, fs, the flags that made it and the table it printed) and one orbax checkpoint of
parameters per model and seed, `<model>/seed<s>`. Loading checks the config against what the run
asks for and restores each parameter tree against the shapes of a freshly built model: a directory
that is not a checkpoint, or one from another model or data, raises CheckpointError with one line
saying what does not match.
"""

import json
from pathlib import Path

import jax
import orbax.checkpoint as ocp

FORMAT = "examples.string checkpoint, version 1"


class CheckpointError(ValueError):
    """What does not match, in one line."""


def save(directory, config, params):
    """Write config.json and params {(model, seed): parameter tree} under `directory`."""
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    checkpointer = ocp.StandardCheckpointer()
    for (name, seed), tree in params.items():
        checkpointer.save(directory / name / f"seed{seed}", jax.device_get(tree), force=True)
    checkpointer.wait_until_finished()
    (directory / "config.json").write_text(json.dumps({"format": FORMAT, **config}, indent=1))


def read_config(directory):
    """The config of the checkpoint in `directory`, or CheckpointError."""
    path = Path(directory) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CheckpointError(f"--load={directory}: no readable config.json: not a checkpoint") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(
            f"--load={directory}: config.json is not a checkpoint of this example ({FORMAT})"
        )
    return config


def check_data(directory, saved, current):
    """CheckpointError naming the first entry of the data description that differs."""
    for key, value in current.items():
        if saved.get(key) != value:
            raise CheckpointError(
                f"--load={directory}: data {key} is {value!r} here, {saved.get(key)!r} in the checkpoint"
            )


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
