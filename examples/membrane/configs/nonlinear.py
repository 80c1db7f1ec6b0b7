"""The nonlinear membrane: the nonlinear string's recipe, the modal models from DMD, and
Koopman_var's pitch raise: a louder pluck sounds higher (7 % at 10 mm) and stays so, since the
membrane barely decays in 0.25 s, so a gain that follows the change of power since the pluck has
nothing to follow."""

import dataclasses

from examples.membrane.configs import default
from examples.string.configs import nonlinear as string

RECIPE = ("steps", "lr", "lr_dynamics", "window", "latent", "loss_frames", "clip")  # the string's


def get_config():
    recipe = {field: getattr(string.get_config(), field) for field in RECIPE}
    return dataclasses.replace(default.get_config(), membrane="nonlinear", init="dmd", pitch=True, **recipe)
