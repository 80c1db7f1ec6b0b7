"""A milder data set than the paper's: a steel A2 string, 25 modes, 0.5–1.5 mm plucks centred in
(0.1, 0.9) of the length, 256 / 16 plucks of one second, and (u, v)."""

import dataclasses

from examples.string.configs import default


def get_config():
    return dataclasses.replace(
        default.shared(),
        material="steel_a2",
        modes=25,
        train=256,
        val=16,
        test=0,
        centre=(0.1, 0.9),
        width=(0.02, 0.1),
        peak=(0.5e-3, 1.5e-3),
        channels="uv",
    )
