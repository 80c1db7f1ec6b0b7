"""The linear string from a random start (the seed's LRU initialisation), on the steel string's
(u, v) plucks. The eigenvalues are found on short windows, where a phase error costs little,
helped by the latent loss (least squares in λ, as DMD is), then made precise on long windows,
scored on 250 of their frames; twice as many states as modes, so that eigenvalues settling on the
same mode leave none unfound."""

import dataclasses

from examples.string.configs import steel


def get_config():
    return dataclasses.replace(
        steel.get_config(),
        init="random",
        model_size=50,
        steps=40000,
        lr_dynamics=0.03,
        window=32,
        latent=1.0,
        loss_frames=250,
    )
