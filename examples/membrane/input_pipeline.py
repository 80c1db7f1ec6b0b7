"""The membrane example's input pipeline: simulated 2D plucks in, frames (N, T, W = Nx·Ny, 2) out."""

import numpy as np

from examples.membrane import physics


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
