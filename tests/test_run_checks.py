"""run_checks.py as a user runs it: exit codes, the FAIL row, the device error, x64 and sharding."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from absl import flags

import recurrent as rec
import run_checks

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run(
        [sys.executable, "run_checks.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_default_run_passes():
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == f"{len(run_checks.CHECKS)} passed, 0 failed"
    assert lines[0].startswith("jax ") and "backend cpu" in lines[1] and "dtype float32" in lines[2]
    assert sum(" PASS " in line for line in lines) == len(run_checks.CHECKS)


@pytest.mark.parametrize("flag", ["--x64", "--num_devices=4"])
def test_x64_and_simulated_devices_pass(flag):
    result = run(flag, "--d_hidden=8", "--steps=64")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    if flag == "--x64":
        assert "dtype float64" in result.stdout
    else:
        assert "4 device(s)" in result.stdout


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


@pytest.fixture
def parsed_flags():
    flags.FLAGS(["run_checks", "--checks=contract,round_trip", "--d_hidden=8", "--steps=32"])
    yield
    flags.FLAGS.unparse_flags()


def test_a_broken_model_fails_its_check(parsed_flags, monkeypatch, capsys):
    """Off by one step: the contract check must catch it, and the run must exit 1."""
    rollout = rec.modal_rollout
    monkeypatch.setattr(
        rec, "modal_rollout", lambda lam, x0, steps, offset: rollout(lam, x0, steps, offset + 1)
    )
    assert run_checks.main(["run_checks"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("contract"))
    error, tolerance = (float(v) for v in row.split()[2:4])
    assert " FAIL " in row and error > tolerance and np.isfinite(error)
    assert any(line.startswith("round_trip") and " PASS " in line for line in out.splitlines())
    assert out.strip().splitlines()[-1] == "1 passed, 1 failed"
