"""README.md's and docs/experiments.md's tables, rendered from the results files, never typed by hand.

    python -m examples.string.readme            # the tables, the cells still missing, their commands
    python -m examples.string.readme --write    # also into README.md and docs/experiments.md, between markers

The paper (DAFx 2024; its authors' `nbs/results.qmd`) has eight columns: the linear and the
nonlinear string, Gaussian and noise initial conditions, 4 kHz (10 modes) and 16 kHz (25 modes),
4000 steps each. Each cell of ours is results/string/<column>/<model>.json, written by
`python -m examples.string --workdir=results/string/<column> ...` (the file holds the command).
The paper's models learn from a random start; ours start from DMD, and results/string/scratch/
holds the same columns from the seed's random initialisation (`--config=scratch`).

Beyond the paper, docs/experiments.md shows two more tables rendered the same way: the scores on
shifted plucks (results/string/shifts/<column>/, `--shifts`) and the learning curves
(results/string/curve/<name>/<plucks>/, `python -m examples.string.curve`).
"""

import json
import sys
from pathlib import Path

import numpy as np

from examples.string import results, train
from examples.string.configs.base import from_dict
from examples.string.configs.default import Config
from examples.string.models import MODELS

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "string"
README = ROOT / "README.md"
DOCS = ROOT / "docs" / "experiments.md"
COLUMNS = [
    (string, ic, fs)
    for string in ("nonlinear", "linear")
    for ic in ("gaussian", "noise")
    for fs in (4000, 16000)
]
ROWS = list(MODELS)
# A column's recipe where it is not its configuration's: {(string, fs) or (string, ic, fs): {model:
# {field: value}}}, the fields of each model's own recipe, asked of its results file alone (a column's
# (string, ic, fs) entry over its (string, fs) one). The nonlinear 16 kHz columns
# train Koopman_var 3600 steps, not 7200: the column then takes under 30 minutes on two cores, and
# Koopman_var's error at 7200 steps was 10-100x under its targets (docs/performance.md). On the linear
# Gaussian plucks at 4 kHz the LRU's eigenvalue rate falls with the window (eigen_rate_by_window=1),
# every seed lower than at one rate (docs/experiments.md).
RECIPES = {
    ("nonlinear", 16000): {"koopman_var": {"steps_var": 3600}},
    ("linear", "gaussian", 4000): {"lru": {"eigen_rate_by_window": 1.0}},
}
# The from-scratch table (results/string/scratch/): every column, from the scratch configurations
# (configs/scratch.py), whose recipe is the same in every column of a string; SCRATCH_RECIPES holds a
# column's own where one is needed, as RECIPES does for the DMD start.
SCRATCH_COLUMNS = COLUMNS
# The nonlinear string's own, at 4 and 16 kHz: why in configs/scratch.py, the runs in docs/experiments.md.
# The linear Gaussian 16 kHz Koopman_var keeps the better of two starts a seed (restarts_var=2, by the
# training error), where one start of five failed (a mode 1.5 % off, 0.31). On the noise plucks at
# 4 kHz the eigenvalues' rate falls with the window (eigen_rate_by_window=1), Koopman's from 0.02,
# and Koopman_var's on the linear Gaussian plucks at 4 kHz: why in configs/scratch.py.
SCRATCH_RECIPES = {
    ("nonlinear", 4000): {"koopman_var": {"steps_var": 16000, "lr_var": 3e-3}},
    ("nonlinear", 16000): {"koopman": {"steps": 16000}, "koopman_var": {"steps_var": 8000}},
    ("linear", "gaussian", 16000): {"koopman_var": {"restarts_var": 2}},
    ("linear", "gaussian", 4000): {"koopman_var": {"eigen_rate_by_window": 1.0}},
    ("nonlinear", "noise", 4000): {"koopman_var": {"eigen_rate_by_window": 1.0}},
    ("linear", "noise", 4000): {
        "koopman": {"eigen_rate_by_window": 1.0, "lr_dynamics": 0.02},
        "koopman_var": {"eigen_rate_by_window": 1.0},
    },
}
SCRATCH_ROWS = ["koopman", "koopman_var"]
NAMES = {name: kind.label for name, kind in MODELS.items()}
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
        "lru": [
            "0.0260(0.0067) 0.1571(0.0240)",
            "0.0390(0.0187) 0.1870(0.0450)",
            "0.0250(0.0065) 0.1284(0.0077)",
            "0.0476(0.0058) 0.1922(0.0125)",
        ],
        "s5": [
            "0.1165(0.0260) 0.3318(0.0291)",
            "0.0224(0.0013) 0.1467(0.0053)",
            "0.0507(0.0127) 0.1916(0.0190)",
            "0.0387(0.0062) 0.1493(0.0078)",
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
        "lru": [
            "0.0014(0.0005) 0.0373(0.0065)",
            "0.0010(0.0002) 0.0317(0.0034)",
            "0.0005(0.0001) 0.0199(0.0025)",
            "0.0005(0.0002) 0.0217(0.0036)",
        ],
        "s5": [
            "0.0386(0.0273) 0.1896(0.0597)",
            "0.0156(0.0102) 0.1206(0.0421)",
            "0.0112(0.0029) 0.1023(0.0139)",
            "0.0037(0.0012) 0.0539(0.0119)",
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


def read_cells(root=RESULTS, init=None, recipes=RECIPES):
    """{(column, model): results file record} of every results file under root (whose configuration
    starts the models from `init`, if given) that a trained model's recipe of the column (`recipes`)
    made; the others are missing."""
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
                recipe = column_recipe(recipes, string, ic, fs, model)
                if any(config.get(field) != value for field, value in recipe.items()):
                    continue
                cells[(column_name(string, ic, fs), model)] = record
    return cells


def mean_std(values):
    values = np.asarray(values, float)
    return values.mean(), values.std(ddof=1) if values.size > 1 else 0.0


def number(mean, std):
    return f"{mean:.4f} ({std:.4f})" if mean >= 1e-3 else f"{mean:.1e} ({std:.0e})"


def cell(result, key):
    """A model's mean (std) over its seeds of `key` (rel_mse_seeds or rel_mae_seeds), marked ⁿ where
    n ≠ 5 seeds made it; one run (DMD, or the GRU's one seed): the std across the validation plucks,
    as the paper's DMD row, marked ‡."""
    values = result[key]
    if len(values) > 1:
        return number(*mean_std(values)) + (
            "" if len(values) == 5 else str(len(values)).translate(SUPERSCRIPTS)
        )
    spread = result[key.replace("_seeds", "_pluck_std_seeds")]
    return number(values[0], spread[0]) + " ‡"


SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
LEGEND = (
    "‡: one run, its std across the validation plucks (the paper's DMD row gives this spread); "
    "†: saw (u, v), not u alone; §: a smaller model than the paper's, with its own recipe "
    "(the results file holds both); ², ³, ⁴: the mean over that many seeds (five elsewhere)."
)


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
                        seen = " †" if record["config"]["channels"] == "uv" else ""
                        paper_size = MODELS[model].paper_size
                        seen += " §" if any(record["config"].get(f) != v for f, v in paper_size) else ""
                        row.append(cell(record["result"], key) + seen)
                    else:
                        row.append("–")
                    row.append("{:.4f} ({:.4f})".format(*ref[0 if metric == "MSE" else 1]) if ref else "–")
                lines.append("| " + " | ".join(row) + " |")
            lines += ["", LEGEND, ""]
        for column in columns:
            for model in ROWS:
                if (column_name(*column), model) not in cells:
                    missing.append(f"{column_name(*column)}/{model}")
    scratch_cells = read_cells(Path(root) / "scratch", "random", SCRATCH_RECIPES)
    scratch, scratch_missing = render_scratch(cells, scratch_cells)
    lines += scratch
    missing += scratch_missing
    scratch_cells = {(f"scratch/{column}", model): r for (column, model), r in scratch_cells.items()}
    lines += sources(
        {**cells, **scratch_cells},
        "Where each column's numbers were made (`results/string/<column>/<model>.json` hold the commands), "
        "and its training time summed over models and seeds (each seed's counts its DMD fit; most "
        "made with other runs sharing the CPU; simulating the data not included):",
    )
    return "\n".join(lines).rstrip() + "\n", missing


def sources(records, head):
    """Markdown lines: `head`, then each group's machines, dates and commits and its training time
    (summed over its models and seeds; simulating the data not included); records {(group, _): record}."""
    where, seconds = {}, {}
    for (group, _), record in sorted(records.items()):
        for run in results.runs_of(record):
            where.setdefault(group, set()).add(f"{run['machine']}, {run['date']}, commit {run['commit']}")
        seconds[group] = seconds.get(group, 0.0) + sum(record["result"]["train_seconds_seeds"])
    return [head, ""] + [
        f"- {group}: {'; '.join(sorted(made))}; training {seconds[group] / 60:.0f} min"
        for group, made in where.items()
    ]


def render_scratch(cells, scratch):
    """(markdown lines, [missing cells]) of the from-scratch table: each cell of `scratch` beside the
    same column's from-DMD cell of `cells` and the paper's."""
    lines = [
        "**From scratch**: the seed's random initialisation (`--config=scratch`, `scratch_nonlinear`),",
        "no DMD; relative MSE and MAE, mean (std) over seeds, the largest frequency error over the modes",
        "with ≥ 1 % of the energy (worst seed; the linear string), our models' MSE from DMD and the",
        "paper's MSE and MAE beside",
        "",
        "| column | model | MSE, scratch | MAE | frequency error | MSE from DMD | paper MSE | paper MAE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    missing = []
    for column in SCRATCH_COLUMNS:
        name = column_name(*column)
        for model in SCRATCH_ROWS:
            record, ours = scratch.get((name, model)), cells.get((name, model))
            if record is None:
                missing.append(f"scratch/{name}/{model}")
            errors = record["result"].get("frequency_error_seeds") if record else None
            mse, mae = paper(*column, model)
            row = [
                f"{column[0]} {column[1]} {column[2] // 1000} kHz",
                NAMES[model],
                *(seeds_cell(record, key) for key in ("rel_mse_seeds", "rel_mae_seeds")),
                f"{max(errors):.2%}" if errors else "–",
                number(*mean_std(ours["result"]["rel_mse_seeds"])) if ours else "–",
                "{:.4f} ({:.4f})".format(*mse),
                "{:.4f} ({:.4f})".format(*mae),
            ]
            lines.append("| " + " | ".join(row) + " |")
    return lines + [""], missing


def seeds_cell(record, key):
    """A from-scratch cell: the mean (std) of `key` over its seeds, the count marked where not five."""
    if record is None:
        return "–"
    values = record["result"][key]
    return number(*mean_std(values)) + ("" if len(values) == 5 else str(len(values)).translate(SUPERSCRIPTS))


def column_recipe(recipes, string, ic, fs, model):
    """{field: value} of a model's own recipe in the column (string, ic, fs) of `recipes`."""
    return recipes.get((string, fs), {}).get(model, {}) | recipes.get((string, ic, fs), {}).get(model, {})


def recipe_flags(recipes, string, ic, fs, models):
    """The flags of `models`' own recipes in the column (string, ic, fs) of `recipes`, each once."""
    fields = {}
    for model in models:
        fields |= column_recipe(recipes, string, ic, fs, model)
    return [f"--{field}={value}" for field, value in fields.items()]


def command(column, models):
    """The commands that make the cells of `models` in `column`: the string's configuration with the
    column's initial condition, rate and recipe (RECIPES); DMD on (u, v), the data check. A scratch/
    column: the scratch configuration for that string (SCRATCH_RECIPES). One command for the models
    of the same flags and own recipe: a field such as eigen_rate_by_window is every model's, so a
    recipe's flags are not given to a model whose recipe lacks them."""
    string, ic, fs = next(c for c in COLUMNS if column_name(*c) == column.removeprefix("scratch/"))
    scratch = column.startswith("scratch/")
    recipes = SCRATCH_RECIPES if scratch else RECIPES
    if scratch:
        args = [f"--config={'scratch_nonlinear' if string == 'nonlinear' else 'scratch'}"]
    else:
        args = [f"--config={'nonlinear' if string == 'nonlinear' else 'default'}"]
    args += [f"--ic={ic}", f"--fs={fs}"]
    groups = {}
    for m in models:
        kind, own = MODELS[m], tuple(recipe_flags(recipes, string, ic, fs, [m]))
        groups.setdefault((kind.table_flags, kind.fitted, own), []).append(m)
    lines = []
    for (flags, fitted, own), names in sorted(groups.items(), key=lambda group: not group[0][1]):
        chosen = [f"--models={','.join(names)}", *([] if fitted else ["--seeds=5"])]
        lines.append([*own, *chosen] if scratch else [*flags, *chosen, *own])
    return [
        " ".join(["python -m examples.string", *args, *extra, f"--workdir=results/string/{column}"])
        for extra in lines
    ]


def ratio(value):
    return f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"


def short(value):
    return f"{value:.2f}" if value >= 0.1 else f"{value:.1e}".replace("e-0", "e-")


def render_shifts(root=RESULTS / "shifts"):
    """Markdown of the scores on shifted plucks: per column under root and model, the validation
    error, the longer horizon's error per second, and louder, softer and the other shape with their
    ratio to the validation error; means over the seeds."""
    lines, records = [], {}
    for column in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        rows = [
            json.loads((column / f"{m}.json").read_text()) for m in ROWS if (column / f"{m}.json").exists()
        ]
        if not rows:
            continue
        config = rows[0]["config"]
        longer = next(
            (r["result"]["shifts"]["longer"] for r in rows if "longer" in r["result"]["shifts"]), None
        )
        seconds = [f"{i}–{i + 1} s" for i in range(len(longer["per_second"]))] if longer else []
        others = [s for s in ("louder", "softer", "shape") if s in rows[0]["result"]["shifts"]]
        ranges = {
            "louder": "louder {:g}–{:g} mm".format(*(1e3 * v for v in config["louder"])),
            "softer": "softer {:g}–{:g} mm".format(*(1e3 * v for v in config["softer"])),
            "shape": f"{'noise' if config['ic'] == 'gaussian' else 'Gaussian'} plucks",
        }
        trained_on = "{:g} s with peaks of {:g}–{:g} mm".format(
            config["samples"] / config["fs"], *(1e3 * v for v in config["peak"])
        )
        lines += [
            f"**{column.name}**, trained on {trained_on}: relative MSE on fresh plucks"
            + (f", a {config['horizon']:g} s rollout per second" if longer else "")
            + " (× the validation error); seeds: "
            + ", ".join(f"{NAMES[r['model']]} {len(r['result']['rel_mse_seeds'])}" for r in rows),
            "",
            "| model | validation | " + " | ".join(seconds + [ranges[s] for s in others]) + " |",
            "|---|---|" + "---|" * (len(seconds) + len(others)),
        ]
        for record in rows:
            result, shifts = record["result"], record["result"]["shifts"]
            cells = [NAMES[record["model"]], short(result["rel_mse"])]
            cells += [short(e) for e in shifts["longer"]["per_second"]] if longer else []
            cells += [f"{short(shifts[s]['rel_mse'])} ({ratio(shifts[s]['ratio'])})" for s in others]
            lines.append("| " + " | ".join(cells) + " |")
            records[(column.name, record["model"])] = record
        lines.append("")
    return "\n".join(lines + sources(records, "Made on:")).rstrip() + "\n"


def curve_points(directory):
    """{model: [(plucks, validation rel. MSE, training rel. MSE, record)]} of a learning curve's
    directory (DIR/<plucks>/<model>.json), means over the seeds, by size."""
    points = {}
    sizes = sorted(
        (p for p in Path(directory).iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    )
    for size in sizes:
        for model in ROWS:
            path = size / f"{model}.json"
            if path.exists():
                record = json.loads(path.read_text())
                result = record["result"]
                points.setdefault(model, []).append(
                    (int(size.name), result["rel_mse"], result["train_rel_mse"], record)
                )
    return points


def render_curve(root=RESULTS / "curve"):
    """Markdown of the learning curves under root: per curve, model and size, the validation and the
    training error (on as many training plucks as validation plucks) and their ratio."""
    lines = [
        "| curve | model | training plucks | seeds | validation | training | gap |",
        "|---|---|---|---|---|---|---|",
    ]
    records = {}
    for directory in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        for model, points in curve_points(directory).items():
            for size, val, trained, record in points:
                seeds = len(record["result"]["rel_mse_seeds"])
                cells = [directory.name, NAMES[model], str(size), str(seeds), short(val), short(trained)]
                lines.append("| " + " | ".join(cells + [ratio(val / trained)]) + " |")
                records[(directory.name, (model, size))] = record
    return "\n".join(lines + [""] + sources(records, "Made on:")).rstrip() + "\n"


def training_steps(record):
    """The Adam steps of a results file's model (its recipe), None for a fitted one (DMD)."""
    kind = MODELS[record["model"]]
    if kind.fitted:
        return None
    return train.recipe(kind, from_dict(Config, record["config"]), 0).steps


def costs(root=RESULTS):
    """[(model, fs, params, training seconds per 1000 steps, minutes per column, × real time at fs,
    at 48 kHz, validation rel. MSE, a seed's training seconds)] of every cell (the seeds' means)."""
    rows = []
    for record in read_cells(root).values():
        model, result, steps = record["model"], record["result"], training_steps(record)
        seconds = result["train_seconds_seeds"]
        rows.append(
            (
                model,
                int(record["config"]["fs"]),
                result["params"],
                np.mean(seconds) / steps * 1000 if steps else None,
                np.sum(seconds) / 60,
                result.get("rtf"),
                result.get("rtf_48k"),
                result["rel_mse"],
                np.mean(seconds),
            )
        )
    return rows


def render_costs(root=RESULTS):
    """Markdown of what each model costs: per model and rate, the median over its columns."""
    rows = costs(root)
    lines = [
        "**What each model costs**: median over the columns at each rate; training on two CPU cores "
        "(each seed's time, its start included), synthesis of one grid point, batch 1",
        "",
        "| model | rate | params | train s / 1000 steps | train min / column | × real time, fs | 48 kHz |",
        "|---|---|---|---|---|---|---|",
    ]

    def median(values, form):
        values = [v for v in values if v is not None]
        return form.format(np.median(values)) if values else "–"

    for model in ROWS:
        for fs in (4000, 16000):
            mine = [r for r in rows if r[0] == model and r[1] == fs]
            if not mine:
                continue
            lines.append(
                f"| {NAMES[model]} | {fs // 1000} kHz | {median([r[2] for r in mine], '{:.0f}')} | "
                f"{median([r[3] for r in mine], '{:.0f}')} | {median([r[4] for r in mine], '{:.1f}')} | "
                f"{median([r[5] for r in mine], '{:.0f}')} | {median([r[6] for r in mine], '{:.0f}')} |"
            )
    return "\n".join(lines) + "\n\n![validation error against training time](docs/figures/cost.png)\n"


def save_cost_figure(path, root=RESULTS):
    """Validation relative MSE against training seconds (a seed's mean), one mark per model and
    column, log scales."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = costs(root)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, model in enumerate(ROWS):
        mine = [r for r in rows if r[0] == model]
        if mine:
            for fs, marker in ((4000, "o"), (16000, "s")):
                at = [r for r in mine if r[1] == fs]
                ax.scatter(
                    [max(r[8], 0.1) for r in at],
                    [r[7] for r in at],
                    color=f"C{i}",
                    marker=marker,
                    label=f"{NAMES[model]} {fs // 1000} kHz" if at else None,
                )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training seconds (one seed, two CPU cores)",
        ylabel="validation relative MSE",
        title="Every cell of the paper's table",
    )
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def blocks(tables=None):
    """{file: {block name: rendered markdown}}: what each marked block of the README and the docs holds
    (`tables`: the README's, where already rendered)."""
    return {
        README: {"results:string": tables or render()[0], "results:costs": render_costs()},
        DOCS: {"results:shifts": render_shifts(), "results:curve": render_curve()},
    }


def markers(name):
    return f"<!-- {name} begin -->", f"<!-- {name} end -->"


def read_block(text, name):
    """The part of a text between the markers of block `name`."""
    begin, end = markers(name)
    if begin not in text or end not in text:
        raise ValueError(f"no {begin} ... {end} block")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def write_block(text, name, markdown):
    begin, end = markers(name)
    read_block(text, name)
    head, tail = text.split(begin, 1)[0], text.split(end, 1)[1]
    return f"{head}{begin}\n{markdown}{end}{tail}"


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
        for path, named in blocks(tables).items():
            text = path.read_text()
            for name, markdown in named.items():
                text = write_block(text, name, markdown)
            path.write_text(text)
            print(f"{path.relative_to(ROOT)}: {', '.join(named)} written")
        save_cost_figure(ROOT / "docs" / "figures" / "cost.png")
        print("docs/figures/cost.png written")


if __name__ == "__main__":
    main(sys.argv)
