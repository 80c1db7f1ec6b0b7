"""The membrane example's figure: true against predicted frames, the fundamental, the eigenvalues."""

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

from examples.string.figures import fundamental_frequency  # noqa: E402


def save_figure(path, true, preds, points, fs, learned):
    """True against predicted frames as images at a few times, the fundamental's pitch, eigenvalues."""
    times = [0, true.shape[0] // 8, true.shape[0] // 2]
    rows = {"true": true, **preds}
    fig, axes = plt.subplots(len(rows), len(times) + 2, figsize=(3 * (len(times) + 2), 2.6 * len(rows)))
    limit = np.abs(true[..., 0]).max()
    shape = np.outer(  # the (1, 1) mode
        np.sin(np.linspace(0, np.pi, points[0])), np.sin(np.linspace(0, np.pi, points[1]))
    ).ravel()
    for r, (name, frames) in enumerate(rows.items()):
        for c, t in enumerate(times):
            image = frames[t, :, 0].reshape(points).T
            axes[r, c].imshow(image, vmin=-limit, vmax=limit, cmap="RdBu", origin="lower")
            axes[r, c].set(title=f"{name}, t = {t / fs * 1e3:.0f} ms", xticks=[], yticks=[])
        axes[r, -2].plot(*fundamental_frequency(frames[:, :, 0], fs, shape))
        axes[r, -2].set(title=f"{name}: fundamental, Hz", xlabel="t / s")
        circle = np.exp(1j * np.linspace(0, np.pi, 200))
        axes[r, -1].plot(circle.real, circle.imag, color="0.7")
        if name in learned:
            axes[r, -1].scatter(learned[name].real, np.abs(learned[name].imag), s=8)
        axes[r, -1].set(title=f"{name}: eigenvalues", aspect="equal")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
