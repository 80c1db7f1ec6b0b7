"""`python -m examples.membrane`: the string's models, loop, JSON, figure and audio on the membrane."""

import json

import pytest
from conftest import run_python


@pytest.mark.slow
def test_the_membrane_example_runs_the_string_loop(tmp_path):
    """A tiny run of `python -m examples.membrane`: every model, two seeds, the JSON in the string's
    shape with the speed columns, the figure, and the string's audio page with its WAVs."""
    table, figure, audio = tmp_path / "membrane.json", tmp_path / "membrane.png", tmp_path / "audio"
    args = ["--config=nonlinear", "--train=6", "--val=2", "--samples=80", "--steps=2", "--seeds=2"]
    outputs = [f"--json={table}", f"--figure={figure}", f"--audio={audio}", "--audio_plucks=1"]
    result = run_python("-m", "examples.membrane", *args, *outputs)
    assert result.returncode == 0, result.stderr
    record = json.loads(table.read_text())
    assert [r["model"] for r in record["results"]] == ["dmd", "koopman", "koopman_var"]
    assert [len(r["rel_mse_seeds"]) for r in record["results"]] == [1, 2, 2]
    assert figure.stat().st_size > 0
    assert all(r["rtf"] > 0 and r["rtf_48k"] > 0 and r["block_64_48k"] > 0 for r in record["results"])
    names = ["truth", "dmd", "koopman", "koopman_var"]
    assert sorted(f.name for f in audio.glob("*.wav")) == sorted(f"pluck0_{n}.wav" for n in names)
    assert "x, y = 0.3, 0.4 of the membrane" in (audio / "index.html").read_text()
