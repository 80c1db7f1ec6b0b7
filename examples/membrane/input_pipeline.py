"""The membrane example's input pipeline: simulated 2D plucks in, frames (N, T, W = Nx·Ny, C) out."""

import numpy as np

from examples.membrane import physics
from examples.string.configs.base import ConfigError
from examples.string.input_pipeline import Dataset


def make_plucks(membrane, n_plucks, rng, n_modes, n_steps, fs, points, nonlinear=True, peak=(1e-3, 1e-2)):
    """Gaussian plucks at rest: centre uniform in (0.3, 0.7) of each side, width uniform in
    (2 grid spacings, 0.1 Lx), peak uniform in `peak` (m); frames of u and u_t, float32."""
    m, n, *_ = physics.modes(membrane, fs, n_modes)
    spacing = membrane.lx / (points[0] - 1)
    q0 = np.stack(
        [
            physics.pluck(
                membrane,
                (rng.uniform(0.3, 0.7) * membrane.lx, rng.uniform(0.3, 0.7) * membrane.ly),
                rng.uniform(min(2 * spacing, 0.1 * membrane.lx), 0.1 * membrane.lx),
                rng.uniform(*peak),
                m,
                n,
            )
            for _ in range(n_plucks)
        ]
    )
    q, v = physics.simulate(membrane, q0, n_steps, fs, nonlinear, n_modes=m.size)
    return physics.to_frames(membrane, q, v, m, n, points).astype(np.float32)


def get_dataset(config, scale=None):
    """The run's Dataset: config.train + config.val plucks of u, divided by the training standard
    deviation (or `scale`, a checkpoint's)."""
    points, pickup = config.points, config.pickup
    if config.slope:
        raise ConfigError(
            f"--slope={config.slope:g}: expected 0, the membrane's frames being a 2-D grid flattened"
        )
    rng = np.random.default_rng(config.data_seed)
    nonlinear = config.membrane == "nonlinear"
    frames = make_plucks(
        physics.MEMBRANE,
        config.train + config.val,
        rng,
        config.modes,
        config.samples,
        config.fs,
        points,
        nonlinear,
        config.peak,
    )[..., :1]
    scale = frames[: config.train].std(axis=(0, 1, 2)) if scale is None else np.asarray(scale, np.float32)
    frames = frames / scale
    description = {
        "membrane": config.membrane,
        "data_seed": config.data_seed,
        "shape": list(frames.shape[1:]),
        "fs": config.fs,
    }
    return Dataset(
        train=frames[: config.train],
        val=frames[config.train :],
        fs=config.fs,
        scale=scale,
        name=f"membrane, {config.membrane}",
        description=description,
        true_eigenvalues=None,
        point=round(pickup[0] * (points[0] - 1)) * points[1] + round(pickup[1] * (points[1] - 1)),
        n_test=0,
    )
