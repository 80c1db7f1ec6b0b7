"""The membrane example's configuration, and its default: the linear membrane.

Sized for a 2-core CPU (4 kHz, 0.25 s, 9 × 8 points, the 24 lowest modes, 200 / 50 plucks of
1–10 mm, D = 32); fs, samples, points and modes reach the authors' sizes (16 kHz, 0.5 s, 41 × 37
points, up to 225 modes). The models see u alone; their start is two-frame (Hankel) DMD, exact on
the linear membrane.
"""

import dataclasses
import math

from examples.string.configs.base import Base, above, at_least, between, each, one_of, setting, span


@dataclasses.dataclass(frozen=True)
class Config(Base):
    """Every setting of a membrane run: the data, the models, the recipe and the seeds."""

    models: tuple = setting(
        ("dmd", "koopman", "koopman_var"),
        "Models trained, any of the string example's: dmd, koopman, koopman_var, gru.",
    )
    dmd_delays: int = setting(
        2, "The DMD model's frames stacked: 2, Hankel DMD, exact on the linear membrane.", at_least(1)
    )
    model_size: int = setting(32, "Complex state size D of the modal models.", at_least(1))
    membrane: str = setting(
        "linear", "linear or nonlinear (Berger tension modulation) membrane.", one_of("linear", "nonlinear")
    )
    modes: int = setting(24, "Lowest membrane modes simulated.", at_least(1))
    fs: float = setting(4000.0, "Sample rate, Hz.", above(0))
    samples: int = setting(1000, "T, samples of each trajectory.", at_least(2))
    points: tuple = setting((9, 8), "Grid points Nx, Ny, edges included.", each(at_least(3), 2))
    train: int = setting(200, "Training plucks.", at_least(1))
    val: int = setting(50, "Validation plucks.", at_least(1))
    peak: tuple = setting(
        (1e-3, 1e-2), "Range of a pluck's peak displacement, m.", span(0, math.inf, positive=True)
    )
    channels: str = setting("u", "What the models see and predict: u.", one_of("u"))
    pickup: tuple = setting(
        (0.3, 0.4),
        "Listening point x, y, fractions of Lx and Ly.",
        each(between(0, 1), 2),
    )


def get_config():
    return Config()
