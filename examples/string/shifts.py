"""Beyond the training distribution: trained models scored on plucks unlike their training ones.

Each shift is the configuration's draw with one thing changed, simulated afresh (its own random
stream, config.val plucks) and normalised by the training scale; the simulator is the truth:
- longer: plucks of the training draw, simulated and rolled out for config.horizon seconds from
  the first frame, scored per second of the horizon;
- louder, softer: peaks drawn in config.louder, config.softer instead of config.peak;
- shape: the other initial condition (noise for a model trained on Gaussian plucks, and back).
A model's shifted error is read beside its validation error (the same draw as its training plucks).
"""

import dataclasses

import numpy as np

from examples.string import input_pipeline, metrics, train
from examples.string.configs.base import ConfigError
from examples.string.figures import fundamental_frequency, plt

SHIFTS = ("longer", "louder", "softer", "shape")


def shifted(config, shift):
    """The configuration whose draw is the shift's."""
    if shift == "longer":
        return dataclasses.replace(config, samples=round(config.horizon * config.fs))
    if shift in ("louder", "softer"):
        return dataclasses.replace(config, peak=getattr(config, shift))
    if shift == "shape":
        return dataclasses.replace(config, ic="noise" if config.ic == "gaussian" else "gaussian")
    raise ConfigError(f"--shifts={shift}: expected some of {', '.join(SHIFTS)}")


def check(config):
    """Raise ValueError, naming the field, for shifts that cannot be made from config."""
    for shift in config.shifts:
        shifted(config, shift)
    if config.shifts and config.data:
        raise ConfigError(
            f"--shifts={','.join(config.shifts)} with --data={config.data}: expected simulated plucks"
        )
    if "longer" in config.shifts and not config.horizon * config.fs >= config.samples:
        raise ConfigError(
            f"--horizon={config.horizon:g}: expected at least the training trajectories' "
            f"{config.samples / config.fs:g} s"
        )
    for name in ("louder", "softer"):
        low, high = getattr(config, name)
        if name in config.shifts and not 0 < low <= high:
            raise ConfigError(f"--{name}={low:g},{high:g}: expected 0 < low ≤ high, m")


def plucks(config, scale):
    """{shift: frames (config.val, T, W, C)} of config.shifts, divided by the training `scale`; each
    shift's plucks from its own random stream (config.data_seed, the shift's index), not the run's."""
    check(config)
    frames = {}
    for shift in config.shifts:
        rng = np.random.default_rng([config.data_seed, 1 + SHIFTS.index(shift)])
        pluck = input_pipeline.make_plucks(shifted(config, shift), config.val, rng)
        frames[shift] = pluck[..., : len(config.channels)] / scale
    return frames


def evaluate(trained, frames, fs, validation):
    """One model's scores on every shift: trained [(module, parameters)] of its seeds, frames
    {shift: frames}, `validation` its validation relative MSE of each seed. For each shift the mean
    relative MSE over the seeds, each seed's, and its ratio to the validation mean; `longer` also per
    second of the horizon (per_second, and each second's share of the energy) and per 0.1 s (by_tenth).
    Returns the scores and the first seed's rollout of the first longer pluck (None without it)."""
    scores, first = {}, None
    for shift, true in frames.items():
        seeds, per_second, by_tenth = [], [], []
        for module, params in trained:
            pred = train.predict(module, params, true[:, 0], true.shape[1])
            seeds.append(metrics.errors(pred, true)[0])
            if shift == "longer":
                first = pred[0] if first is None else first
                per_second.append(metrics.segment_errors(pred, true, round(fs)))
                by_tenth.append(metrics.segment_errors(pred, true, round(fs / 10))[0])
        mse = float(np.mean(seeds))
        scores[shift] = {"rel_mse": mse, "rel_mse_seeds": seeds, "ratio": mse / float(np.mean(validation))}
        if shift == "longer":
            scores[shift]["per_second"] = np.mean([e for e, _ in per_second], axis=0).tolist()
            scores[shift]["share"] = per_second[0][1]
            scores[shift]["by_tenth"] = np.mean(by_tenth, axis=0).tolist()
    return scores, first


def score(config, report):
    """Add each model's scores on config.shifts to its result in report.results (key `shifts`).
    Returns the first longer pluck (T', W, C) and {model: its rollout of it}, for the figure."""
    frames, rollouts = plucks(config, report.dataset.scale), {}
    for result in report.results:
        name = result["model"]
        trained = [(run.model, run.params) for run in report.runs if run.name == name]
        result["shifts"], rollouts[name] = evaluate(
            trained, frames, report.dataset.fs, result["rel_mse_seeds"]
        )
    return frames["longer"][0] if "longer" in frames else None, rollouts


def save_figure(path, results, true, rollouts, fs):
    """The longer horizon: each model's relative MSE per 0.1 s, and the fundamental's frequency of
    the first pluck, true and each model's, over the whole horizon."""
    fig, (error, pitch) = plt.subplots(1, 2, figsize=(13, 4.5))
    times, freqs = fundamental_frequency(true[..., 0], fs)
    pitch.plot(times, freqs, color="k", lw=2, label="true")
    for i, result in enumerate(results):
        tenths = result["shifts"]["longer"]["by_tenth"]
        error.semilogy(0.1 * np.arange(len(tenths)) + 0.05, tenths, color=f"C{i + 1}", label=result["model"])
        times, freqs = fundamental_frequency(rollouts[result["model"]][..., 0], fs)
        pitch.plot(times, freqs, color=f"C{i + 1}", lw=1, label=result["model"])
    error.set(title="relative MSE per 0.1 s of the rollout", xlabel="t / s")
    low, high = np.percentile(fundamental_frequency(true[..., 0], fs)[1], [1, 99])
    pitch.set(title="the fundamental's frequency, first pluck", xlabel="t / s", ylabel="Hz")
    pitch.set_ylim(low - 0.5 * (high - low) - 1, high + 0.5 * (high - low) + 1)
    for ax in (error, pitch):
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def print_shifts(results):
    """The shift scores of the results that have them, one line per model and shift."""
    rows = [(r["model"], shift, s) for r in results for shift, s in r.get("shifts", {}).items()]
    if not rows:
        return
    print(f"\n{'model':<12} {'shift':<8} {'rel MSE':>10} {'× validation':>13}  per second")
    for model, shift, s in rows:
        seconds = " ".join(f"{e:.2e}" for e in s.get("per_second", []))
        print(f"{model:<12} {shift:<8} {s['rel_mse']:>10.3e} {s['ratio']:>13.2f}  {seconds}")
