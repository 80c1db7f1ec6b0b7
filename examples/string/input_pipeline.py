"""The string example's input pipeline: simulated plucks or trajectory files in, plain arrays out.

Frames are (N, T, W, C): N trajectories of T steps on W grid points, C channels (displacement u and
velocity v). The simulators (`physics`) and `--data` files meet at these arrays. Training draws its
batches of windows from them (`draw_batch`) and splits each over the devices (`data_parallel`).
"""

from typing import NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from examples.string import physics
from examples.string.configs.base import ConfigError

STRINGS = {"nylon_b": physics.NYLON_B, "steel_a2": physics.STEEL_A2}


class Dataset(NamedTuple):
    """What a run trains and validates on, as every example's input pipeline returns it."""

    train: np.ndarray  # (N, T, W, C) training frames, each channel divided by `scale`
    val: np.ndarray  # (V, T, W, C) validation frames, likewise
    fs: float  # sample rate, Hz
    scale: np.ndarray  # (C,) the training standard deviation of each channel
    name: str  # where the data came from, in words
    description: dict  # what a checkpoint's data must match: source, channels, shape, fs
    true_eigenvalues: np.ndarray | None  # the linear system's λ (its modes), when known
    point: int  # the listening grid point (audio, synthesis speed)
    n_test: int  # test trajectories held out and never used
    mirrored: bool = False  # the second half of train is the first mirrored in space


def n_modes(config):
    """The string modes simulated: config.modes, or the paper's for its rate (10 at 4 kHz, 25 above)."""
    return config.modes or (10 if config.fs <= 4000 else 25)


def initial_shapes(config, n_plucks, rng):
    """(n_plucks, W) initial displacements on the W-point grid, drawn as the paper's authors' generator
    draws them (physmodjax `generate_initial_condition`), per pluck: a centre m and a width s, uniform
    in config.centre and config.width (a lower bound of 0: two grid steps), as fractions of the
    length; the shape exp(−((x − m)/s)²) on the grid (ic="gaussian") or each grid point uniform in
    (0, 1) (ic="noise"); a peak uniform in config.peak; the shape scaled so that its largest value on
    the grid is that peak. The ends are then held at rest (u = 0 there), as their solver does."""
    x = np.linspace(0, 1, config.points)
    low = config.width[0] or min(2 * x[1], config.width[1])
    shapes = np.empty((n_plucks, config.points))
    for i in range(n_plucks):  # one pluck's draws after another, in their generator's order
        centre, width = rng.uniform(*config.centre), rng.uniform(low, config.width[1])
        shape = (
            np.exp(-(((x - centre) / width) ** 2)) if config.ic == "gaussian" else rng.uniform(0, 1, x.size)
        )
        shapes[i] = shape * rng.uniform(*config.peak) / np.max(np.abs(shape))
    shapes[:, [0, -1]] = 0.0
    return shapes


def project(string, shapes, n_modes):
    """Modal amplitudes q (..., N) of displacements (..., W) on the grid, u ≈ Σ q_n sin(k_n x), as the
    authors' FTM solver projects them: q_n = (2/L) Δx Σ_i sin(k_n x_i) u_i, a sum over the grid."""
    x = np.linspace(0, string.length, shapes.shape[-1])
    k, _, _ = physics.string_modes(string, n_modes)
    return 2 / string.length * (x[1] - x[0]) * shapes @ np.sin(np.outer(k, x)).T


def make_plucks(config, n_plucks, rng):
    """n_plucks trajectories of config's string from rest: frames (n_plucks, T, W, 2) of u and v, float32.

    The initial shapes are `initial_shapes`, projected on the modes by `project`. The linear string
    is stepped by its exact matrix exponential per mode; the nonlinear one by Lawson RK4 ("lawson")
    or scipy's adaptive DOP853 ("dop853"), config.simulator.
    """
    string, modes = STRINGS[config.material], n_modes(config)
    q0 = project(string, initial_shapes(config, n_plucks, rng), modes)
    if config.string == "linear":  # Lawson's scheme with no nonlinear force is the exact matrix exponential
        q, v = physics.simulate_modal(string, q0, config.samples, config.fs, alpha=0.0, substeps=1)
    elif config.simulator == "lawson":
        q, v = physics.simulate_modal(string, q0, config.samples, config.fs)
    else:
        q, v = physics.simulate_adaptive(string, q0, config.samples, config.fs)
    frames = np.empty((n_plucks, config.samples, config.points, 2), np.float32)
    for i in range(0, n_plucks, 64):  # float64 a chunk at a time: the whole set is 6.5 GB in float64
        frames[i : i + 64] = physics.to_frames(string, q[i : i + 64], v[i : i + 64], config.points)
    return frames


def get_dataset(config, scale=None):
    """The run's Dataset: config.train / val / test simulated plucks, or config.data's trajectories
    (the last config.data_test held out, the config.val before them validating, every one before
    those training). config.train_plucks trains on the first that many (the validation set unchanged);
    config.mirror adds each mirrored, and so does a set of fewer than config.mirror_below plucks. Each
    channel is divided by its training standard deviation, or by `scale` (a checkpoint's)."""
    if config.data:
        frames, fs = load_trajectories(config.data)
        n_test = round(config.data_test * len(frames)) if config.data_test < 1 else int(config.data_test)
        if config.val + n_test >= len(frames):
            raise ConfigError(
                f"--val={config.val}, --data_test={config.data_test:g}: expected fewer than the "
                f"{len(frames)} trajectories of --data={config.data}, leaving some to train on"
            )
        counts = (len(frames) - config.val - n_test, config.val, n_test)
        frames, true_lam = frames.astype(np.float32), None
        name = config.data.rsplit("/", 1)[-1]
        source = {"data": name}
    else:
        counts, fs = (config.train, config.val, config.test), config.fs
        frames = make_plucks(config, sum(counts), np.random.default_rng(config.data_seed))
        string = STRINGS[config.material]
        true_lam = (
            physics.discrete_eigenvalues(string, n_modes(config), fs) if config.string == "linear" else None
        )
        name = f"{config.material} {config.string}, {config.ic} plucks"
        source = {
            "string": config.string,
            "material": config.material,
            "ic": config.ic,
            "data_seed": config.data_seed,
        }
    if config.channels == "uv" and frames.shape[-1] < 2:
        raise ConfigError(f"--channels={config.channels}: expected u, the data having no velocities v")
    frames = frames[..., : len(config.channels)]  # u is channel 0, v channel 1
    n_train, n_val, n_test = counts
    if config.train_plucks > n_train:
        raise ConfigError(
            f"--train_plucks={config.train_plucks}: expected 0 (all) to the {n_train} training plucks"
        )
    train = frames[: config.train_plucks or n_train]
    mirrored = config.mirror or len(train) < config.mirror_below
    if mirrored:
        train = np.concatenate([train, train[:, :, ::-1]])
    scale = train.std(axis=(0, 1, 2)) if scale is None else np.asarray(scale, np.float32)
    description = {**source, "channels": config.channels, "shape": list(frames.shape[1:]), "fs": fs}
    return Dataset(
        train=train / scale,  # per channel: v is ~1000 times u
        val=frames[n_train : n_train + n_val] / scale,
        fs=fs,
        scale=scale,
        name=name,
        description=description,
        true_eigenvalues=true_lam,
        point=round(config.pickup * (frames.shape[2] - 1)),
        n_test=n_test,
        mirrored=mirrored,
    )


def load_trajectories(path):
    """(frames (N, T, W, C), fs) from an .npz with u (N, T, W), optional v (N, T, W) and fs (Hz).

    Raises ConfigError with one line naming the array and what was expected.
    """
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise ConfigError(f"--data={path}: cannot read it as .npz ({error})") from None
    if "u" not in archive:
        raise ConfigError(f"--data={path}: no array 'u': expected u (N, T, W) displacement")
    u = archive["u"]
    if u.ndim != 3:
        raise ConfigError(f"--data={path}: u has shape {u.shape}: expected (N, T, W)")
    channels = [u]
    if "v" in archive:
        if archive["v"].shape != u.shape:
            raise ConfigError(f"--data={path}: v has shape {archive['v'].shape}: expected u's {u.shape}")
        channels.append(archive["v"])
    for name, array in zip("uv", channels, strict=False):
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
            raise ConfigError(f"--data={path}: {name} has non-finite or non-numeric entries: expected finite")
    if u.shape[0] < 2 or u.shape[1] < 2:
        raise ConfigError(f"--data={path}: u has shape {u.shape}: expected N ≥ 2 trajectories of T ≥ 2 steps")
    fs = archive["fs"] if "fs" in archive else np.array(np.nan)
    if fs.size != 1 or not np.issubdtype(fs.dtype, np.number) or not float(fs) > 0:
        raise ConfigError(f"--data={path}: fs missing or not a positive number: expected the sample rate, Hz")
    return np.stack(channels, axis=-1).astype(np.float64), float(fs)


def draw_batch(rng, frames, batch_size, length, loss_frames, latent, anchor=False):
    """One step's batch of windows of `length` steps at random rows and offsets (0 if `anchor`) of
    frames (N, T, W, C): first frames (B, W, C), the steps scored (M,), a random subset shared by the
    batch (None: all; the powers λ^k of a modal model are then computed once for the batch), their
    frames (B, M, W, C), and the first M frames for the latent loss (B, M', W, C; one frame without it)."""
    rows = rng.choice(len(frames), size=batch_size, replace=False)
    offsets = rng.integers(0, frames.shape[1] - length + 1, size=rows.size)
    offsets = np.zeros_like(offsets) if anchor else offsets
    n_scored = min(length, loss_frames or length)
    times = None  # every frame scored: the models' whole output, no gather
    if n_scored < length:
        times = np.sort(rng.choice(length, n_scored, replace=False))
    first = frames[rows, offsets]
    scored = frames[rows[:, None], offsets[:, None] + (np.arange(length) if times is None else times)]
    consecutive = frames[rows[:, None], offsets[:, None] + np.arange(n_scored if latent else 1)]
    return first, times, scored, consecutive


def data_parallel():
    """Shardings over every device JAX sees (all hosts' after jax.distributed.initialize()): the
    batch axis split over the devices, and replicated (parameters, optimiser state)."""
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch")), NamedSharding(mesh, PartitionSpec())


def to_devices(array, sharding):
    """A global array from a host array that every process holds alike: each device takes its part."""
    array = np.asarray(array)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])
