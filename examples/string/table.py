"""The paper's table, rendered from the results files, never typed by hand.

    python -m examples.string.table            # the tables, the cells still missing, their commands
    python -m examples.string.table --write    # also put them into README.md, between its markers

The paper (DAFx 2024; its authors' `nbs/results.qmd`) has eight columns: the linear and the
nonlinear string, Gaussian and noise initial conditions, 4 kHz (10 modes) and 16 kHz (25 modes),
4000 steps each. Each cell of ours is results/string/<column>/<model>.json, written by
`python -m examples.string --workdir=results/string/<column> ...` (the file holds the command).
The paper's models learn from a random start; ours start from DMD, and results/string/scratch/
holds the same columns from the seed's random initialisation (`--config=scratch`).
"""

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "string"
README = ROOT / "README.md"
BEGIN, END = "<!-- results:string begin -->", "<!-- results:string end -->"
COLUMNS = [
    (string, ic, fs)
    for string in ("nonlinear", "linear")
    for ic in ("gaussian", "noise")
    for fs in (4000, 16000)
]
ROWS = ["dmd", "koopman", "koopman_var", "gru"]
SCRATCH_COLUMNS = [("linear", "gaussian", 4000), ("nonlinear", "gaussian", 4000)]
SCRATCH_ROWS = ["koopman", "koopman_var"]
NAMES = {"dmd": "DMD", "koopman": "Koopman", "koopman_var": "Koopman_var", "gru": "GRU"}
# The paper's relative MSE and MAE, mean (std) over 5 seeds (DMD: over the validation set), in the
# order of COLUMNS for each string. Its GRU row is not in the paper.
PAPER = {
    "nonlinear": {
        "dmd": [
            "1.1865(0.2019) 0.8289(0.0857)",
            "1.0938(0.1311) 0.8747(0.0749)",
            "1.6695(0.2687) 1.0420(0.1178)",
            "1.8313(0.2467) 1.0953(0.087)",
        ],
        "koopman": [
            "0.1041(0.0144) 0.3271(0.0259)",
            "0.0971(0.0029) 0.3117(0.0044)",
            "0.2070(0.0939) 0.3978(0.1084)",
            "0.0865(0.0155) 0.2596(0.0275)",
        ],
        "koopman_var": [
            "0.0113(0.0061) 0.0977(0.0284)",
            "0.0094(0.0046) 0.0888(0.0245)",
            "0.0041(0.0008) 0.0527(0.0081)",
            "0.0531(0.0572) 0.1714(0.1056)",
        ],
    },
    "linear": {
        "dmd": [
            "0.0000(0.0000) 0.0060(0.0007)",
            "0.0001(0.0000) 0.0097(0.0006)",
            "0.0000(0.0000) 0.0042(0.0004)",
            "0.0001(0.0000) 0.0066(0.0004)",
        ],
        "koopman": [
            "0.0110(0.0069) 0.1005(0.0331)",
            "0.0048(0.0009) 0.0692(0.0074)",
            "0.0073(0.0052) 0.0789(0.0322)",
            "0.0019(0.0001) 0.0423(0.0004)",
        ],
        "koopman_var": [
            "0.0020(0.0013) 0.0427(0.0145)",
            "0.0013(0.0012) 0.0321(0.0142)",
            "0.0002(0.0001) 0.0134(0.0023)",
            "0.0495(0.0973) 0.1125(0.1785)",
        ],
    },
}


def column_name(string, ic, fs):
    return f"{string}_{ic}_{int(fs) // 1000}k"


def paper(string, ic, fs, model):
    """The paper's ((MSE mean, std), (MAE mean, std)) of a cell, or None."""
    cells = PAPER[string].get(model)
    if cells is None:
        return None
    text = cells[[c for c in COLUMNS if c[0] == string].index((string, ic, fs))]
    return tuple(tuple(float(v) for v in part.rstrip(")").split("(")) for part in text.split())


def paper_mse(config):
    """{model: the paper's mean relative MSE} for a configuration of the paper's data, else None."""
    paper_data = (
        not config.data
        and config.material == "nylon_b"
        and (config.train, config.val) == (800, 100)
        and config.samples == 4000
        and config.points == 101
        and config.channels == "u"
        and (config.string, config.ic, int(config.fs)) in COLUMNS
        and not config.modes
    )
    if not paper_data:
        return None
    cells = {m: paper(config.string, config.ic, int(config.fs), m) for m in ROWS}
    return {m: cell[0][0] for m, cell in cells.items() if cell}


def read_cells(root=RESULTS, init=None):
    """{(column, model): results file record} of every results file under root (whose configuration
    starts the models from `init`, if given)."""
    cells = {}
    for string, ic, fs in COLUMNS:
        for model in ROWS:
            path = Path(root) / column_name(string, ic, fs) / f"{model}.json"
            if path.exists():
                record = json.loads(path.read_text())
                config = record["config"]
                if (config["string"], config["ic"], int(config["fs"])) != (string, ic, fs):
                    raise ValueError(f"{path}: its configuration is not column {column_name(string, ic, fs)}")
                if init and config["init"] != init:
                    raise ValueError(f"{path}: init={config['init']!r}: expected {init!r} here")
                cells[(column_name(string, ic, fs), model)] = record
    return cells


def mean_std(values):
    values = np.asarray(values, float)
    return values.mean(), values.std(ddof=1) if values.size > 1 else 0.0


def number(mean, std):
    return f"{mean:.4f} ({std:.4f})" if mean >= 1e-3 else f"{mean:.1e} ({std:.0e})"


def render(root=RESULTS):
    """(markdown of the tables, [missing cells]): per string and metric, each model's mean (std) over
    its seeds beside the paper's, then where each column's numbers came from."""
    cells, lines, missing = read_cells(root), [], []
    for string in ("nonlinear", "linear"):
        columns = [c for c in COLUMNS if c[0] == string]
        for metric, key in (("MSE", "rel_mse_seeds"), ("MAE", "rel_mae_seeds")):
            heads = [f"{ic} {fs // 1000} kHz" for _, ic, fs in columns]
            lines += [
                f"**{string.capitalize()} string, relative {metric}**, mean (std) over seeds; paper beside",
                "",
                "| model | " + " | ".join(f"{h} | paper" for h in heads) + " |",
                "|---|" + "---|---|" * len(columns),
            ]
            for model in ROWS:
                row = [NAMES[model]]
                for column in columns:
                    record = cells.get((column_name(*column), model))
                    ref = paper(*column, model)
                    if record:
                        values = record["result"][key]
                        seen = " (u, v)" if record["config"]["channels"] == "uv" else ""
                        seeds = {1: " (1 seed)", 5: ""}.get(len(values), f" ({len(values)} seeds)")
                        row.append(number(*mean_std(values)) + seeds + seen)
                    else:
                        row.append("–")
                    row.append("{:.4f} ({:.4f})".format(*ref[0 if metric == "MSE" else 1]) if ref else "–")
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
        for column in columns:
            for model in ROWS:
                if (column_name(*column), model) not in cells:
                    missing.append(f"{column_name(*column)}/{model}")
    scratch, scratch_missing = render_scratch(cells, read_cells(Path(root) / "scratch", "random"))
    lines += scratch
    missing += scratch_missing
    sources = {}
    for (column, _), record in sorted(cells.items()):
        sources.setdefault(column, set()).add(
            f"{record['machine']}, {record['date']}, commit {record['commit']}"
        )
    lines.append(
        "Where each column's numbers were made (`results/string/<column>/<model>.json` hold the commands):"
    )
    lines.append("")
    lines += [f"- {column}: {'; '.join(sorted(where))}" for column, where in sources.items()]
    return "\n".join(lines).rstrip() + "\n", missing


def render_scratch(cells, scratch):
    """(markdown lines, [missing cells]) of the from-scratch table: each cell of `scratch` beside the
    same column's from-DMD cell of `cells` and the paper's."""
    lines = [
        "**From scratch**: the seed's random initialisation (`--config=scratch`), no DMD; relative MSE,",
        "mean (std) over seeds, the largest frequency error over the modes with ≥ 1 % of the energy",
        "(worst seed; the linear string), our models from DMD and the paper's beside",
        "",
        "| column | model | from scratch | frequency error | from DMD | paper |",
        "|---|---|---|---|---|---|",
    ]
    missing = []
    for column in SCRATCH_COLUMNS:
        name = column_name(*column)
        for model in SCRATCH_ROWS:
            record, ours = scratch.get((name, model)), cells.get((name, model))
            if record is None:
                missing.append(f"scratch/{name}/{model}")
            errors = record["result"].get("frequency_error_seeds") if record else None
            row = [
                f"{column[0]} {column[1]} {column[2] // 1000} kHz",
                NAMES[model],
                number(*mean_std(record["result"]["rel_mse_seeds"])) if record else "–",
                f"{max(errors):.2%}" if errors else "–",
                number(*mean_std(ours["result"]["rel_mse_seeds"])) if ours else "–",
                "{:.4f} ({:.4f})".format(*paper(*column, model)[0]),
            ]
            lines.append("| " + " | ".join(row) + " |")
    return lines + [""], missing


def command(column, models):
    """The command that makes the cells of `models` in `column`: the string's configuration with the
    column's initial condition and rate; DMD on (u, v), the data check; at 16 kHz Koopman's bank
    spans the 25 modes. A scratch/ column: the scratch configuration for that string."""
    if column.startswith("scratch/"):
        string = column.split("/")[1].split("_")[0]
        models = ",".join(models)
        return [
            f"python -m examples.string --config=scratch --string={string} --models={models} --seeds=5 "
            f"--workdir=results/string/{column}"
        ]
    string, ic, fs = next(c for c in COLUMNS if column_name(*c) == column)
    args = [f"--config={'nonlinear' if string == 'nonlinear' else 'default'}", f"--ic={ic}", f"--fs={fs}"]
    if string == "nonlinear" and fs > 4000:
        args.append("--bank_modes=25")
    trained = [m for m in models if m != "dmd"]
    lines = []
    if "dmd" in models:
        lines.append(["--channels=uv", "--models=dmd"])
    if trained:
        lines.append([f"--models={','.join(trained)}", "--seeds=5"])
    return [
        " ".join(["python -m examples.string", *args, *extra, f"--workdir=results/string/{column}"])
        for extra in lines
    ]


def readme_block(text):
    """The part of the README between the markers."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md: no {BEGIN} ... {END} block")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main(argv):
    tables, missing = render()
    print(tables)
    print("missing: " + (", ".join(missing) if missing else "none"))
    by_column = {}
    for cell in missing:
        column, model = cell.rsplit("/", 1)
        by_column.setdefault(column, []).append(model)
    for column, models in by_column.items():
        print("\n".join(command(column, models)))
    if "--write" in argv[1:]:
        text = README.read_text()
        head, tail = text.split(BEGIN, 1)[0], text.split(END, 1)[1]
        README.write_text(f"{head}{BEGIN}\n{tables}{END}{tail}")
        print("README.md: tables written")


if __name__ == "__main__":
    main(sys.argv)
