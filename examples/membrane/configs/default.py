"""The membrane example's configuration, and its default: the linear membrane.

Sized for a 2-core CPU (4 kHz, 0.25 s, 9 × 8 points, the 24 lowest modes, 200 / 50 plucks of
1–10 mm, D = 32); fs, samples, points and modes reach the authors' sizes (16 kHz, 0.5 s, 41 × 37
points, up to 225 modes). The models see u alone; their start is two-frame (Hankel) DMD, exact on
the linear membrane.
"""

import dataclasses
from typing import ClassVar

from examples.string.configs.base import Base, setting


@dataclasses.dataclass(frozen=True)
class Config(Base):
    """Every setting of a membrane run: the data, the models, the recipe and the seeds."""

    example: ClassVar[str] = "membrane"  # the package whose input_pipeline.get_dataset reads this

    models: tuple = setting(("dmd", "koopman", "koopman_var"), "Models trained: dmd, koopman, koopman_var.")
    dmd_delays: int = setting(
        2, "The DMD model's frames stacked: 2, Hankel DMD, exact on the linear membrane."
    )
    model_size: int = setting(32, "Complex state size D of the modal models.")
    membrane: str = setting("linear", "linear or nonlinear (Berger tension modulation) membrane.")
    modes: int = setting(24, "Lowest membrane modes simulated.")
    fs: float = setting(4000.0, "Sample rate, Hz.")
    samples: int = setting(1000, "T, samples of each trajectory.")
    points: tuple = setting((9, 8), "Grid points Nx, Ny, edges included.")
    train: int = setting(200, "Training plucks.")
    val: int = setting(50, "Validation plucks.")
    peak: tuple = setting((1e-3, 1e-2), "Range of a pluck's peak displacement, m.")
    channels: str = setting("u", "What the models see and predict: u.")
    pickup: tuple = setting((0.3, 0.4), "Listening point x, y, fractions of Lx and Ly.")


def get_config():
    return Config()
