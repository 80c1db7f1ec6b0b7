"""The string example's input pipeline: simulated plucks or trajectory files in, plain arrays out.

Frames are (N, T, W, C): N trajectories of T steps on W grid points, C channels (displacement u and
velocity v). The simulators (`physics`) and `--data` files meet at these arrays.
"""

import dataclasses

import numpy as np

from examples.string import physics


@dataclasses.dataclass(frozen=True)
class Plucks:
    """A data set of Gaussian plucks released at rest: the string and how its plucks are drawn."""

    string: physics.String
    modes: int  # N, modes simulated
    counts: tuple  # plucks (train, validation, test)
    centre: tuple  # range of the Gaussian's centre, fraction of L
    width: tuple  # range of its width, fraction of L; a lower bound of None is two grid spacings
    peak: tuple  # range of its peak displacement, m
    fs: float  # sample rate, Hz
    seconds: float  # length of each pluck, s
    points: int  # W, grid points, ends included
    channels: str  # the channels its table uses: "u" (displacement) or "uv" (and velocity)


PLUCKS = {
    # The paper's data set, as its authors' configs and generator define it (our reading of it).
    "paper": Plucks(
        physics.NYLON_B, 10, (800, 100, 100), (0.3, 0.7), (None, 0.1), (1e-3, 1e-2), 4000.0, 1.0, 101, "u"
    ),
    # The milder set the example used before: a steel string, 0.5–1.5 mm plucks, (u, v).
    "steel": Plucks(
        physics.STEEL_A2, 25, (256, 16, 0), (0.1, 0.9), (0.02, 0.1), (0.5e-3, 1.5e-3), 4000.0, 1.0, 101, "uv"
    ),
}


def make_plucks(
    plucks, n_plucks, rng, kind="linear", simulator="lawson", n_steps=None, n_points=None, n_modes=None
):
    """n_plucks of the data set `plucks`: frames (n_plucks, T, W, 2) of u and v, float32.

    Centre, width and peak are drawn uniformly from the set's ranges. The linear string is stepped by
    its exact matrix exponential per mode; the nonlinear one ("nonlinear") by physics.simulate_modal
    ("lawson") or scipy's adaptive DOP853 ("dop853"). n_steps, n_points and n_modes override the set's.
    """
    string = plucks.string
    n_steps = n_steps or round(plucks.seconds * plucks.fs)
    n_points, n_modes = n_points or plucks.points, n_modes or plucks.modes
    low = plucks.width[0] if plucks.width[0] is not None else min(2 / (n_points - 1), plucks.width[1])
    centres = rng.uniform(*plucks.centre, n_plucks) * string.length
    widths = rng.uniform(low, plucks.width[1], n_plucks) * string.length
    peaks = rng.uniform(*plucks.peak, n_plucks)
    q0 = np.stack(
        [physics.pluck(string, c, w, n_modes, a) for c, w, a in zip(centres, widths, peaks, strict=True)]
    )
    if kind == "linear":  # Lawson's scheme with no nonlinear force is the exact matrix exponential
        q, v = physics.simulate_modal(string, q0, n_steps, plucks.fs, alpha=0.0, substeps=1)
    elif simulator == "lawson":
        q, v = physics.simulate_modal(string, q0, n_steps, plucks.fs)
    else:
        q, v = physics.simulate_adaptive(string, q0, n_steps, plucks.fs)
    chunks = [
        physics.to_frames(string, q[i : i + 64], v[i : i + 64], n_points) for i in range(0, n_plucks, 64)
    ]
    return np.concatenate([c.astype(np.float32) for c in chunks])


def load_trajectories(path):
    """(frames (N, T, W, C), fs) from an .npz with u (N, T, W), optional v (N, T, W) and fs (Hz).

    Raises ValueError with one line naming the array and what was expected.
    """
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"--data={path}: cannot read it as .npz ({error})") from None
    if "u" not in archive:
        raise ValueError(f"--data={path}: no array 'u': expected u (N, T, W) displacement")
    u = archive["u"]
    if u.ndim != 3:
        raise ValueError(f"--data={path}: u has shape {u.shape}: expected (N, T, W)")
    channels = [u]
    if "v" in archive:
        if archive["v"].shape != u.shape:
            raise ValueError(f"--data={path}: v has shape {archive['v'].shape}: expected u's {u.shape}")
        channels.append(archive["v"])
    for name, array in zip("uv", channels, strict=False):
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
            raise ValueError(f"--data={path}: {name} has non-finite or non-numeric entries: expected finite")
    if u.shape[0] < 2 or u.shape[1] < 2:
        raise ValueError(f"--data={path}: u has shape {u.shape}: expected N ≥ 2 trajectories of T ≥ 2 steps")
    fs = archive["fs"] if "fs" in archive else np.array(np.nan)
    if fs.size != 1 or not np.issubdtype(fs.dtype, np.number) or not float(fs) > 0:
        raise ValueError(f"--data={path}: fs missing or not a positive number: expected the sample rate, Hz")
    return np.stack(channels, axis=-1).astype(np.float64), float(fs)
