"""The paper's table: rendered from the results files, and the README shows exactly that."""

import json

import numpy as np
import pytest

from examples.string import readme


def test_the_readme_and_the_docs_show_what_the_results_files_say():
    """No number of the README's paper table, nor of the docs' shift and learning-curve tables, is
    typed by hand: each is the renderer's output."""
    for path, named in readme.blocks().items():
        for name, rendered in named.items():
            assert readme.read_block(path.read_text(), name) == rendered, (
                f"{path.name}'s {name} differs from results/: run python -m examples.string.readme --write"
            )


def test_a_cell_is_the_mean_and_std_of_its_seeds(tmp_path):
    """A results file's seeds become mean (sample std), the count said when not five; a file missing
    is a missing cell; a column's training time is its seeds' summed."""
    column = tmp_path / "nonlinear_noise_16k"
    column.mkdir()
    seeds = [0.01, 0.02, 0.04]
    record = {
        "result": {
            "rel_mse_seeds": seeds,
            "rel_mae_seeds": [0.1, 0.2, 0.3],
            "train_seconds_seeds": [600.0, 660.0, 720.0],
        },
        "config": {"string": "nonlinear", "ic": "noise", "fs": 16000.0, "channels": "u", "steps_var": 3600},
        "machine": "test machine",
        "date": "2026-01-01",
        "commit": "abc",
    }
    (column / "koopman.json").write_text(json.dumps(record))
    text, missing = readme.render(tmp_path)
    expected = f"{np.mean(seeds):.4f} ({np.std(seeds, ddof=1):.4f})³"
    row = next(line for line in text.splitlines() if line.startswith("| Koopman |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[7] == expected and cells[8] == "0.0865 (0.0155)"
    assert "nonlinear_noise_16k/koopman" not in missing and "nonlinear_noise_16k/dmd" in missing
    assert (
        len(missing)
        == len(readme.COLUMNS) * len(readme.ROWS) - 1 + len(readme.SCRATCH_COLUMNS) * len(readme.SCRATCH_ROWS)
        and "test machine, 2026-01-01, commit abc; training 33 min" in text
    )


def test_one_run_shows_its_spread_across_the_validation_plucks(tmp_path):
    """DMD is one fit and the GRU one seed: their cells' std is across the validation plucks, as the
    paper's DMD row."""
    column = tmp_path / "linear_gaussian_4k"
    column.mkdir()
    result = {"rel_mse_seeds": [0.5], "rel_mae_seeds": [0.7], "train_seconds_seeds": [1.0]}
    spread = {"rel_mse_pluck_std_seeds": [0.25], "rel_mae_pluck_std_seeds": [0.125]}
    config = {"string": "linear", "ic": "gaussian", "fs": 4000.0, "channels": "uv"}
    record = {"result": {**result, **spread}, "config": config, "machine": "m", "date": "d", "commit": "c"}
    (column / "dmd.json").write_text(json.dumps(record))
    (column / "gru.json").write_text(json.dumps({**record, "config": {**config, "channels": "u"}}))
    text, _ = readme.render(tmp_path)
    linear = text[text.index("**Linear string, relative MSE**") :]
    dmd = next(line for line in linear.splitlines() if line.startswith("| DMD |"))
    gru = next(line for line in linear.splitlines() if line.startswith("| GRU |"))
    assert "| 0.5000 (0.2500) ‡ † |" in dmd
    assert "| 0.5000 (0.2500) ‡ |" in gru
    assert "0.7000 (0.1250) ‡" in text[text.index("**Linear string, relative MAE**") :]


def test_a_cell_made_by_another_recipe_than_its_columns_is_missing(tmp_path):
    """The nonlinear 16 kHz columns train Koopman_var 3600 steps (RECIPES): their command says so, and
    a trained model's file of another recipe is a missing cell, DMD's (no training) is not."""
    (tmp_path / "nonlinear_gaussian_16k").mkdir()
    config = {"string": "nonlinear", "ic": "gaussian", "fs": 16000.0, "channels": "u", "steps_var": 0}
    result = {"rel_mse_seeds": [0.1], "rel_mae_seeds": [0.1], "train_seconds_seeds": [1.0]}
    result |= {"rel_mse_pluck_std_seeds": [0.1], "rel_mae_pluck_std_seeds": [0.1]}
    record = {"result": result, "config": config, "machine": "m", "date": "d", "commit": "c"}
    for model in ("dmd", "koopman_var"):
        (tmp_path / "nonlinear_gaussian_16k" / f"{model}.json").write_text(json.dumps(record))
    _, missing = readme.render(tmp_path)
    assert "nonlinear_gaussian_16k/koopman_var" in missing and "nonlinear_gaussian_16k/dmd" not in missing
    trained, dmd = readme.command("nonlinear_gaussian_16k", ["koopman_var", "dmd"])[::-1]
    assert "--steps_var=3600" in trained and "steps_var" not in dmd
    assert "steps_var" not in readme.command("nonlinear_gaussian_4k", ["koopman_var"])[0]


def test_a_file_in_the_wrong_column_is_refused(tmp_path):
    (tmp_path / "linear_gaussian_4k").mkdir()
    record = {"result": {}, "config": {"string": "nonlinear", "ic": "gaussian", "fs": 4000.0}}
    (tmp_path / "linear_gaussian_4k" / "dmd.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="is not column linear_gaussian_4k"):
        readme.render(tmp_path)


def test_the_papers_numbers_are_its_table():
    """Spot checks against the paper's results.qmd, as printed there."""
    assert readme.paper("nonlinear", "gaussian", 4000, "koopman_var") == ((0.0113, 0.0061), (0.0977, 0.0284))
    assert readme.paper("linear", "noise", 16000, "koopman") == ((0.0019, 0.0001), (0.0423, 0.0004))
    assert readme.paper("nonlinear", "noise", 16000, "dmd") == ((1.8313, 0.2467), (1.0953, 0.087))
    assert readme.paper("linear", "gaussian", 4000, "gru") is None
    assert readme.paper("nonlinear", "noise", 4000, "lru") == ((0.0250, 0.0065), (0.1284, 0.0077))
    assert readme.paper("linear", "gaussian", 16000, "s5") == ((0.0156, 0.0102), (0.1206, 0.0421))


def test_a_scratch_cell_sits_beside_the_dmd_start_and_the_paper(tmp_path):
    """results/string/scratch/<column>/<model>.json: its mean (std) and worst frequency error, beside
    the same column's cell from DMD and the paper's; a file there not from a random start is refused."""
    config = {"string": "linear", "ic": "gaussian", "fs": 4000.0, "channels": "u", "init": "random"}
    for root, seeds, init in ((tmp_path / "scratch", [0.002, 0.004], "random"), (tmp_path, [1e-5], "dmd")):
        (root / "linear_gaussian_4k").mkdir(parents=True)
        record = {
            "result": {
                "rel_mse_seeds": seeds,
                "rel_mae_seeds": seeds,
                "rel_mse_pluck_std_seeds": seeds,
                "rel_mae_pluck_std_seeds": seeds,
                "frequency_error_seeds": [0.0005, 0.0012],
                "train_seconds_seeds": [60.0, 60.0],
            },
            "config": {**config, "init": init},
            "machine": "m",
            "date": "d",
            "commit": "c",
        }
        (root / "linear_gaussian_4k" / "koopman.json").write_text(json.dumps(record))
    text, missing = readme.render(tmp_path)
    row = next(line for line in text.splitlines() if line.startswith("| linear gaussian 4 kHz | Koopman |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2:] == ["0.0030 (0.0014)²", "0.0030 (0.0014)²", "0.12%", "1.0e-05 (0e+00)"] + [
        "0.0110 (0.0069)",
        "0.1005 (0.0331)",
    ]
    assert "scratch/linear_gaussian_4k/koopman" not in missing
    assert "scratch/nonlinear_gaussian_4k/koopman_var" in missing
    assert "--config=scratch_nonlinear " in readme.command("scratch/nonlinear_gaussian_4k", ["koopman"])[0]
    assert "--config=scratch " in readme.command("scratch/linear_gaussian_4k", ["koopman"])[0]
    assert (
        "--config=scratch --ic=noise --fs=4000 " in readme.command("scratch/linear_noise_4k", ["koopman"])[0]
    )
    # A column's own scratch recipe (SCRATCH_RECIPES) is in its command.
    assert (
        "--fs=4000 --steps_var=16000 --lr_var=0.003 --eigen_rate_by_window=1.0 --models=koopman_var"
        in readme.command("scratch/nonlinear_noise_4k", ["koopman_var"])[0]
    )
    (tmp_path / "scratch" / "nonlinear_noise_4k").mkdir()
    path = tmp_path / "scratch" / "nonlinear_noise_4k" / "koopman_var.json"
    noise = {**config, "string": "nonlinear", "ic": "noise", "steps_var": 0, "lr_var": 0.0}
    path.write_text(json.dumps({**record, "config": noise}))
    assert "scratch/nonlinear_noise_4k/koopman_var" in readme.render(tmp_path)[1]
    path.write_text(json.dumps({**record, "config": {**noise, "steps_var": 16000, "lr_var": 0.003}}))
    assert "scratch/nonlinear_noise_4k/koopman_var" in readme.render(tmp_path)[1]  # its falling rate
    noise |= {"steps_var": 16000, "lr_var": 0.003, "eigen_rate_by_window": 1.0}
    path.write_text(json.dumps({**record, "config": noise}))
    assert "scratch/nonlinear_noise_4k/koopman_var" not in readme.render(tmp_path)[1]
    assert "--restarts_var=2" in readme.command("scratch/linear_gaussian_16k", ["koopman_var"])[0]
    assert "restarts_var" not in readme.command("scratch/linear_gaussian_4k", ["koopman_var"])[0]
    assert "eigen_rate" not in readme.command("scratch/nonlinear_gaussian_4k", ["koopman_var"])[0]
    # The DMD start's own recipes (RECIPES: steps_var=3600 at 16 kHz) are not asked of a scratch cell.
    (tmp_path / "scratch" / "nonlinear_gaussian_16k").mkdir()
    nonlinear = {**config, "string": "nonlinear", "fs": 16000.0, "steps": 16000, "steps_var": 8000}
    path = tmp_path / "scratch" / "nonlinear_gaussian_16k" / "koopman_var.json"
    path.write_text(json.dumps({**record, "config": nonlinear}))
    assert "scratch/nonlinear_gaussian_16k/koopman_var" not in readme.render(tmp_path)[1]
    line = readme.command("scratch/nonlinear_gaussian_16k", ["koopman_var"])[0]
    assert "--fs=16000 --steps_var=8000 --models=koopman_var" in line and "3600" not in line
    lines = readme.command("scratch/nonlinear_gaussian_16k", ["koopman", "koopman_var"])
    assert "--fs=16000 --steps=16000 --models=koopman " in lines[0]
    assert "--fs=16000 --steps_var=8000 --models=koopman_var " in lines[1] and len(lines) == 2
    lines = readme.command("scratch/linear_noise_16k", ["koopman", "koopman_var"])
    assert lines == [lines[0]] and "--fs=16000 --models=koopman,koopman_var " in lines[0]
    lines = readme.command("scratch/linear_noise_4k", ["koopman", "koopman_var"])
    assert "--eigen_rate_by_window=1.0 --lr_dynamics=0.02 --models=koopman " in lines[0]
    assert "--eigen_rate_by_window=1.0 --models=koopman_var " in lines[1] and len(lines) == 2
    # A recipe of Koopman_var's own is not asked of Koopman's file in the same column.
    path = tmp_path / "scratch" / "nonlinear_noise_4k" / "koopman.json"
    path.write_text(json.dumps({**record, "config": noise}))
    assert "scratch/nonlinear_noise_4k/koopman" not in readme.render(tmp_path)[1]
    record["config"]["init"] = "dmd"
    (tmp_path / "scratch" / "linear_gaussian_4k" / "koopman.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="init='dmd': expected 'random'"):
        readme.render(tmp_path)


def test_an_ssm_cell_says_when_it_is_not_the_papers_size_and_what_it_cost(tmp_path):
    """An LRU made at another size than PAPER_SSM's is marked §, one at the paper's is not; the cost
    table gives its parameters, seconds per 1000 of its recipe's steps and minutes for the column."""
    from examples.string.configs.base import PAPER_SSM

    result = {"rel_mse_seeds": [0.1, 0.2], "rel_mae_seeds": [0.3, 0.4], "train_seconds_seeds": [300.0, 330.0]}
    result.update(rel_mse=0.15, params=1234, rtf=50.0, rtf_48k=5.0)
    config = {"string": "linear", "ic": "gaussian", "fs": 4000.0, "channels": "u", "ssm_steps": 1500}
    record = {"model": "lru", "result": result, "config": config, "machine": "m", "date": "d", "commit": "c"}
    for column, fields in (("linear_gaussian_4k", {"ssm_states": 64}), ("linear_noise_4k", PAPER_SSM)):
        ic = column.split("_")[1]
        fields = {**fields, "ic": ic, **readme.column_recipe(readme.RECIPES, "linear", ic, 4000, "lru")}
        (tmp_path / column).mkdir()
        (tmp_path / column / "lru.json").write_text(json.dumps({**record, "config": {**config, **fields}}))
    text, _ = readme.render(tmp_path)
    linear = text[text.index("**Linear string, relative MSE**") :]
    lru = next(line for line in linear.splitlines() if line.startswith("| LRU |"))
    cells = [cell.strip() for cell in lru.strip("|").split("|")]
    assert cells[1].endswith(" §") and not cells[5].endswith("§"), cells
    rows = {(r[0], r[1]): r for r in readme.costs(tmp_path)}
    small = next(r for r in readme.costs(tmp_path) if r[3] == pytest.approx(315.0 / 1500 * 1000))
    assert small[2] == 1234 and small[4] == pytest.approx(630.0 / 60) and ("lru", 4000) in rows
    assert "| LRU | 4 kHz | 1234 |" in readme.render_costs(tmp_path)
