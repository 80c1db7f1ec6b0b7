"""run_checks.py as a user runs it: exit codes, the FAIL row, the device error, x64 and sharding."""

import numpy as np
import pytest
from conftest import USER_ENV, run_python


def run(*args, env=None):
    return run_python("run_checks.py", *args, env=env, timeout=600)


@pytest.mark.slow
def test_default_run_passes():
    """The README's command in the environment the suite started with (XLA's defaults, no cache)."""
    result = run(env=USER_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    rows = [line for line in lines if " PASS " in line or " FAIL " in line]
    assert len(rows) == 8 and lines[-1] == "8 passed, 0 failed"  # shapes ... sharding, all run
    assert lines[0].startswith("jax ") and "backend cpu" in lines[1] and "dtype float32" in lines[2]
    assert lines[3].startswith("matmul precision") and "run at 'highest'" in lines[3]
    assert all(" PASS " in row for row in rows)


@pytest.mark.slow
def test_x64_on_simulated_devices_passes():
    """Every check in float64 on four simulated CPU devices: one run covers both switches."""
    result = run("--x64", "--num_devices=4", "--d_hidden=8", "--steps=64")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed, 0 failed" in result.stdout
    assert "dtype float64" in result.stdout and "4 device(s)" in result.stdout


def test_missing_device_is_one_clear_line():
    result = run("--device=tpu")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert [line for line in result.stderr.splitlines() if line] == [
        line for line in result.stderr.splitlines() if line.startswith("run_checks: --device=tpu")
    ]
    assert 'pip install -U "jax[tpu]"' in result.stderr


@pytest.mark.parametrize("args", [["--checks=contract,nope"], ["stray"], ["--device=xpu"]])
def test_usage_errors_exit_2(args):
    assert run(*args).returncode == 2


# Run in a child process: the monkeypatch is real, and this process keeps its own absl flags.
BROKEN = """
import sys
from absl import app
import recurrent
rollout = recurrent.modal_rollout
recurrent.modal_rollout = lambda lam, x0, steps, offset: rollout(lam, x0, steps, 1 - offset)  # one step off
import run_checks
app.run(run_checks.main, argv=["run_checks", *sys.argv[1:]], flags_parser=run_checks.parse_flags)
"""


@pytest.mark.slow
def test_a_broken_model_fails_its_check():
    """Off by one step: the contract check must catch it, and the run must exit 1."""
    result = run_python(
        "-c", BROKEN, "--checks=contract,round_trip", "--d_hidden=8", "--steps=32", timeout=600
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    row = next(line for line in lines if line.startswith("contract"))
    error, tolerance = (float(v) for v in row.split()[2:4])
    assert " FAIL " in row and error > tolerance and np.isfinite(error)
    assert any(line.startswith("round_trip") and " PASS " in line for line in lines)
    assert lines[-1] == "1 passed, 1 failed"
