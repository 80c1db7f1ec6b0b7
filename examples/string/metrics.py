"""The scores, each written once and imported by whoever scores (training, shifts, audio, curves).

Every error is relative: Σ(pred − true)² / Σ true² (the relative MSE) and Σ|pred − true| / Σ|true|
(the relative MAE), summed in float64 over rollouts (B, T, W, C) and their truth.
"""

import numpy as np


def error_sums(pred, true):
    """Each trajectory's Σ(pred − true)², Σ true², Σ|pred − true| and Σ|true| (B, 4), in float64.
    One trajectory at a time: four float64 copies of a whole set are 256 MB at (20, 4000, 101), and
    making them took 3× the sums (0.13 against 0.04 s), at each of a run's twenty validations."""
    sums = np.zeros((len(true), 4))
    for i, (p, t) in enumerate(zip(pred, true, strict=True)):
        t = np.asarray(t, np.float64).ravel()
        d = np.asarray(p, np.float64).ravel() - t
        sums[i] = d @ d, t @ t, np.abs(d).sum(), np.abs(t).sum()
    return sums


def errors(pred, true, sums=None):
    """Relative MSE and relative MAE over the set (from its error_sums, if given)."""
    total = (error_sums(pred, true) if sums is None else sums).sum(axis=0)
    return float(total[0] / total[1]), float(total[2] / total[3])


def relative_mse(pred, true):
    """The relative MSE of one rollout or of a set (any shape)."""
    return errors(np.asarray(pred)[None], np.asarray(true)[None])[0]


def pluck_spread(sums):
    """The sample std, across the trajectories of error_sums, of each one's relative MSE and relative
    MAE (the paper's DMD row gives this spread "across the validation dataset")."""
    mse, mae = sums[:, 0] / sums[:, 1], sums[:, 2] / sums[:, 3]
    ddof = 1 if len(sums) > 1 else 0
    return float(np.std(mse, ddof=ddof)), float(np.std(mae, ddof=ddof))


def batch_errors(pred, true, batch=50, sums=None):
    """The paper's metric: mean((y − ŷ)²) / mean(y²) per batch of `batch` trajectories (in order),
    averaged over the batches (from the set's error_sums, if given); errors() is over the whole set
    at once."""
    sums = error_sums(pred, true) if sums is None else sums
    blocks = [sums[i : i + batch].sum(axis=0) for i in range(0, len(sums), batch)]
    return float(np.mean([block[0] / block[1] for block in blocks]))


def segment_errors(pred, true, length):
    """Relative MSE of each segment of `length` steps of (B, T, W, C) rollouts, and each segment's
    share of Σ true²: the whole rollout's relative MSE is Σ share · error."""
    sums = [
        error_sums(pred[:, i : i + length], true[:, i : i + length]).sum(axis=0)
        for i in range(0, true.shape[1], length)
    ]
    total = sum(s[1] for s in sums)
    return [float(s[0] / s[1]) for s in sums], [float(s[1] / total) for s in sums]


def frequency_errors(lam, true_lam, frames):
    """Largest relative error of the learned frequencies arg λ (nearest learned to each true one) over
    the string's modes with ≥ 1 % of the energy ω_n² q_n² of the first frames (B, T, W, C)."""
    n = np.arange(1, true_lam.size + 1)
    shapes = np.sin(np.outer(np.linspace(0, np.pi, frames.shape[2]), n))  # (W, N)
    q = frames[:, 0, :, 0] @ shapes  # (B, N), up to a common factor
    true_angle = np.abs(np.angle(true_lam))
    energy = np.sum(q**2, axis=0) * true_angle**2
    angles = np.abs(np.angle(lam))
    err = [
        np.min(np.abs(angles - a)) / a
        for a, e in zip(true_angle, energy, strict=True)
        if e >= 0.01 * energy.sum()
    ]
    return max(err)


def scores(pred, true):
    """A run's scores on a set: relative MSE and MAE over it, their spread across its trajectories,
    and the paper's per-batch relative MSE, from one pass of error sums."""
    sums = error_sums(pred, true)
    rel_mse, rel_mae = errors(pred, true, sums)
    mse_std, mae_std = pluck_spread(sums)
    return dict(
        rel_mse=rel_mse,
        rel_mae=rel_mae,
        rel_mse_pluck_std=mse_std,
        rel_mae_pluck_std=mae_std,
        rel_mse_batches=batch_errors(pred, true, sums=sums),
    )


def aggregate(runs, seeds):
    """One result from the scores of a model's runs over `seeds`: the means (relative MSE over the
    whole set and by batches), the sample std and worst of the relative MSE, and every seed's numbers."""
    mse = np.array([r["rel_mse"] for r in runs])
    result = dict(
        model=runs[0]["model"],
        rel_mse=float(mse.mean()),
        rel_mae=float(np.mean([r["rel_mae"] for r in runs])),
        rel_mse_batches=float(np.mean([r["rel_mse_batches"] for r in runs])),
        train_rel_mse=float(np.mean([r["train_rel_mse"] for r in runs])),
        rel_mse_std=float(mse.std(ddof=1)) if mse.size > 1 else 0.0,
        rel_mse_worst=float(mse.max()),
        rel_mse_seeds=mse.tolist(),
        params=runs[0]["params"],
        train_seconds=float(np.mean([r["train_seconds"] for r in runs])),
        stopped_at=[r["stopped_at"] for r in runs if r["stopped_at"] is not None],
    )
    keys = ["rel_mae", "rel_mse_batches", "rel_mse_pluck_std", "rel_mae_pluck_std", "train_rel_mse"]
    keys += ["train_seconds", "stopped_at"]
    keys += [k for k in ("frequency_error", "restarts_train_rel_mse") if k in runs[0]]
    for key in keys:
        result[f"{key}_seeds"] = [r[key] for r in runs]
    result["seeds"] = list(seeds)
    return result
