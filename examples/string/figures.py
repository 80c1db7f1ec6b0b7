"""The string example's figure: eigenvalues, a validation pluck, the fundamental's pitch glide."""

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)


def fundamental_frequency(u, fs, shape=None):
    """Times and frequencies (Hz) of the fundamental of displacements u (T, W): the projection on its
    mode shape (W,) (default: the string's sin(πx/L), the grid spanning the string, ends included),
    one value per period from its upward zero crossings."""
    shape = np.sin(np.pi * np.linspace(0, 1, u.shape[1])) if shape is None else shape
    q = u @ shape
    up = np.flatnonzero((q[:-1] < 0) & (q[1:] >= 0))
    times = (up + q[up] / (q[up] - q[up + 1])) / fs
    return (times[1:] + times[:-1]) / 2, 1 / np.diff(times)


def save_figure(path, preds, true, fs, true_lam, learned):
    """Eigenvalues (true and learned), a validation pluck late in the second, the fundamental's pitch."""
    fig, (disk, trace, pitch) = plt.subplots(
        1, 3, figsize=(16, 4.5), gridspec_kw={"width_ratios": [1, 1.5, 1.5]}
    )
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    disk.plot(circle.real, circle.imag, color="0.7", lw=1)
    if true_lam is not None:
        disk.scatter(
            true_lam.real, true_lam.imag, s=60, facecolors="none", edgecolors="k", label="string (exact)"
        )
    for i, (name, lam) in enumerate(learned.items()):
        lam = np.where(lam.imag < 0, lam.conj(), lam)
        disk.scatter(lam.real, lam.imag, s=20, marker="x", color=f"C{i + 1}", label=name)
    disk.set(
        aspect="equal", xlim=(-1.1, 1.1), ylim=(-0.1, 1.1), title="eigenvalues", xlabel="Re λ", ylabel="Im λ"
    )
    disk.legend(loc="lower center", fontsize=8)
    point, t = true.shape[1] // 3, np.arange(true.shape[0]) / fs
    late = slice(true.shape[0] // 2, true.shape[0] // 2 + round(0.04 * fs))
    trace.plot(t[late], true[late, point, 0], color="k", lw=2, label="true")
    times, freqs = fundamental_frequency(true[..., 0], fs)
    pitch.plot(times, freqs, color="k", lw=2, label="true")
    for i, (name, pred) in enumerate(preds.items()):
        trace.plot(t[late], pred[late, point, 0], color=f"C{i + 1}", lw=1, ls="--", label=name)
        times, freqs = fundamental_frequency(pred[..., 0], fs)
        pitch.plot(times, freqs, color=f"C{i + 1}", lw=1, label=name)
    trace.set(
        title=f"validation pluck at grid point {point}, 40 ms from t = {t[late][0]:.2f} s", xlabel="t / s"
    )
    trace.set_ylabel("u (normalised)")
    trace.legend(loc="upper right", fontsize=8)
    low, high = np.percentile(fundamental_frequency(true[..., 0], fs)[1], [1, 99])
    pitch.set(title="pitch glide: the fundamental's frequency", xlabel="t / s", ylabel="Hz")
    pitch.set_ylim(low - 0.5 * (high - low) - 1, high + 0.5 * (high - low) + 1)
    pitch.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def save_curve(path, curve):
    """Validation (solid) and training (dashed) relative MSE against the training plucks, log-log."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, (name, points) in enumerate(curve.items()):
        sizes, val, trained = zip(*points, strict=True)
        ax.loglog(sizes, val, "o-", color=f"C{i}", label=f"{name}, validation")
        ax.loglog(sizes, trained, "x--", color=f"C{i}", label=f"{name}, training")
    sizes = sorted({size for points in curve.values() for size, _, _ in points})
    ax.set_xticks(sizes, [str(size) for size in sizes], minor=False)
    ax.set_xticks([], minor=True)
    ax.set(xlabel="training plucks", ylabel="relative MSE", title="learning curve")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
