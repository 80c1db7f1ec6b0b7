"""Results files and the record of where a number was made: the machine, the commit, the command.

A results file, `workdir/<model>.json`, holds one model's per-seed numbers with the whole
configuration, the command that made it, the commit, the machine and the date: a table's cell, and
how to make it again. Also the table a run prints (`print_table`).
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

ROOT = Path(__file__).resolve().parents[2]  # the repository: commands and commits are named from it


def write(workdir, config, dataset, result, made_with):
    """`workdir/<model>.json`: the model's per-seed numbers, the whole configuration, the command, the
    commit it was made with, the machine and the date: a table's cell, and how to make it again."""
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
    Path(workdir).mkdir(parents=True, exist_ok=True)
    (Path(workdir) / f"{result['model']}.json").write_text(json.dumps(record, indent=1) + "\n")


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
