"""Results files and the record of where a number was made: the machine, the commit, the command.

A results file, `workdir/<model>.json`, holds one model's per-seed numbers with the whole
configuration, the command that made it, the commit, the machine and the date: a table's cell, and
how to make it again. A run of other seeds of the same configuration (`--seed=3 --seeds=2`) adds
its seeds to the file, and `runs` then says which command, commit and machine made which seeds.
Also the table a run prints (`print_table`).
"""

import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import jax

from examples.string import metrics

ROOT = Path(__file__).resolve().parents[2]  # the repository: commands and commits are named from it


# Fields that choose which seeds a run trains and which models, not how: the seeds of runs that
# differ in these alone are one table cell.
SEED_FIELDS = ("models", "seed", "seeds", "gru_seeds")


def write(workdir, config, dataset, result, made_with):
    """`workdir/<model>.json`: the model's per-seed numbers, the whole configuration, the command, the
    commit it was made with, the machine and the date: a table's cell, and how to make it again. A
    file of the same model, data and configuration (but for SEED_FIELDS) keeps its other seeds."""
    record = {
        "model": result["model"],
        "data": dataset.description,
        "result": result,
        "config": dataclasses.asdict(config),
        "command": command_line(),
        "commit": made_with,
        "machine": machine(),
        "jax": jax.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
    }
    path = Path(workdir) / f"{result['model']}.json"
    if path.exists():  # compared as JSON, which reads tuples back as lists
        record = merged(json.loads(path.read_text()), json.loads(json.dumps(record)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")


def merged(old, new):
    """`new`, a results record, with the seeds of `old` it does not have if both are of one model,
    data and configuration (but for SEED_FIELDS); `new` alone otherwise. `runs`: which command,
    commit, machine and date made which seeds, in the order they were made."""
    same = [old.get(k) == new[k] for k in ("model", "data")]
    same += [old["config"].get(k) == v for k, v in new["config"].items() if k not in SEED_FIELDS]
    kept = [s for s in old["result"]["seeds"] if s not in new["result"]["seeds"]]
    if not all(same) or not kept:
        return new
    runs = []
    for run in runs_of(old):
        seeds = [s for s in run["seeds"] if s in kept]
        runs += [{**run, "seeds": seeds}] if seeds else []
    scores = {s: seed_scores(old["result"], s) for s in kept}
    scores.update({s: seed_scores(new["result"], s) for s in new["result"]["seeds"]})
    seeds = sorted(scores)
    result = {**old["result"], **new["result"], **metrics.aggregate([scores[s] for s in seeds], seeds)}
    return {**new, "result": result, "runs": runs + [run_of(new)]}


def runs_of(record):
    """[{seeds, command, commit, machine, jax, date}] of the runs that made a results record's seeds."""
    return record.get("runs") or [run_of(record)]


def run_of(record):
    keys = ("command", "commit", "machine", "jax", "date")
    return {"seeds": record["result"].get("seeds"), **{k: record.get(k) for k in keys}}


def seed_scores(result, seed):
    """One seed's scores (metrics.scores and fit's) from a result's per-seed lists."""
    i = result["seeds"].index(seed)
    scores = {k.removesuffix("_seeds"): v[i] for k, v in result.items() if k.endswith("_seeds")}
    return {**scores, "model": result["model"], "params": result["params"]}


def machine():
    """The accelerator's name, or the processor's as Linux reports it and the cores JAX may use."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        return f"{device.device_kind} ({jax.device_count()} devices)"
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return f"{names[0] if names else platform.processor() or 'CPU'}, {os.cpu_count()} cores"


def command_line():
    """This process's command line, as it would be typed in the repository to run it again: a module of
    the repository run with -m (its path in sys.argv[0]) as `python -m` that module."""
    script = Path(sys.argv[0]).resolve()
    if script.suffix != ".py" or not script.is_relative_to(ROOT):
        return " ".join(sys.argv)
    module = ".".join(script.relative_to(ROOT).with_suffix("").parts).removesuffix(".__main__")
    return " ".join([f"python -m {module}", *sys.argv[1:]])


def commit():
    """The repository's commit, `+changes` if its code (Python files, requirements) differs from it;
    None outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        code = ["git", "status", "--porcelain", "-uno", "--", "*.py", "requirements*.txt"]
        dirty = subprocess.run(code, cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def print_table(results, paper=None):
    """The results as a table on stdout; `paper`: {model: the paper's relative MSE} for a last column."""
    print(
        f"\n{'model':<12} {'params':>8} {'train s':>8} {'seeds':>5} {'rel MSE (std)':>21} {'worst':>10} "
        f"{'train':>10} {'by 50':>10} {'rel MAE':>10} {'× RT':>8} {'× RT 48k':>9} {'block 64':>9}"
        + (f" {'paper MSE':>10}" if paper else "")
    )
    for r in results:
        one = len(r["rel_mse_seeds"]) == 1
        std = f"{r['rel_mse_pluck_std_seeds'][0]:.1e}p" if one else f"{r['rel_mse_std']:.1e}"
        mse = f"{r['rel_mse']:.3e} ({std})"
        speeds = [f"{r['rtf']:>8.0f}", f"{r['rtf_48k']:>9.1f}"] if "rtf" in r else [f"{'–':>8}", f"{'–':>9}"]
        speeds.append(f"{r['block_64_48k']:>9.3f}" if "block_64_48k" in r else f"{'–':>9}")
        cells = (
            f"{r['params']:>8} {r['train_seconds']:>8.0f} {len(r['rel_mse_seeds']):>5} {mse:>21} "
            f"{r['rel_mse_worst']:>10.3e} {r['train_rel_mse']:>10.3e} {r['rel_mse_batches']:>10.3e} "
            f"{r['rel_mae']:>10.3e} " + " ".join(speeds)
        )
        if paper:
            cells += f" {paper[r['model']]:>10.4g}" if r["model"] in paper else f" {'–':>10}"
        stopped = f"  stopped by the budget at step {r['stopped_at']}" if r["stopped_at"] else ""
        print(f"{r['model']:<12} {cells}{stopped}")
    print("rel MSE: over the whole validation set, (std) over the seeds, (std p) over the validation")
    print("plucks for one seed; train: on as many training plucks; by 50: the paper's, per batch of 50,")
    print("averaged;")
    print("× RT: times faster than real time at fs and 48 kHz; block 64: a 64-sample block's cost at 48 kHz")
    print("as a fraction of its duration")
