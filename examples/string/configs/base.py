"""What both examples' configurations share: the models, the training recipe and the seeds, the
flags made from a configuration's fields, and the checks of every field.

A configuration is a frozen dataclass; each field is declared by `setting(default, help, check)`, so
its meaning and its valid values are written once, `--help` shows them, and `validate` checks them
wherever a configuration is resolved: from flags and from a checkpoint alike. Every field is a flag
of the same name, which overrides the configuration chosen with --config.
"""

import dataclasses
import math
import typing
from collections.abc import Callable

from absl import flags

flags.disclaim_key_flags()  # the flags defined here are those of the main module calling define_flags


class ConfigError(ValueError):
    """The project's own error for a bad setting, data file or checkpoint: one line naming it, the
    value given and what was expected. At the command line only these become one line and exit 2."""


@dataclasses.dataclass(frozen=True)
class Check:
    """A field's valid values: `test(value)` and what it expects, in words."""

    test: Callable  # value -> bool
    expected: str  # e.g. "an integer ≥ 1"


def at_least(low):
    return Check(lambda v: v >= low, f"≥ {low:g}")


def above(low):
    return Check(lambda v: v > low, f"> {low:g}")


def between(low, high, closed=True):
    """A value in [low, high] (closed) or (low, high)."""
    if closed:
        return Check(lambda v: low <= v <= high, f"in [{low:g}, {high:g}]")
    return Check(lambda v: low < v < high, f"in ({low:g}, {high:g})")


def one_of(*choices):
    return Check(lambda v: v in choices, "one of " + ", ".join(map(str, choices)))


def some_of(*choices):
    return Check(lambda v: all(c in choices for c in v), "some of " + ", ".join(map(str, choices)))


def span(low, high, positive=False):
    """A range (a, b) with low ≤ a ≤ b ≤ high (0 < a with `positive`)."""
    return Check(
        lambda v: len(v) == 2 and low <= v[0] <= v[1] <= high and (v[0] > 0 or not positive),
        f"two values a,b with {'0 <' if positive else f'{low:g} ≤'} a ≤ b ≤ {high:g}",
    )


def each(check, count):
    """`count` values, each passing `check`."""
    return Check(
        lambda v: len(v) == count and all(check.test(x) for x in v), f"{count} values, each {check.expected}"
    )


def setting(default, help_text, check=None):
    """A configuration field: its default, what it means (the flag's help) and its valid values."""
    return dataclasses.field(default=default, metadata={"help": help_text, "check": check})


@dataclasses.dataclass(frozen=True)
class Base:
    """Models, recipe and seeds: the fields every example's configuration has."""

    models: tuple = setting(
        ("koopman",), "Models trained, in the table's order: dmd, koopman, koopman_var, lru, s5, gru."
    )
    init: str = setting(
        "dmd_eigs",
        "Start of the modal models: eigenvalues from DMD (dmd_eigs); eigenvalues, encoder and decoder "
        "from DMD (dmd); the modules' own initialisers, the seed's LRU ranges (random).",
        one_of("dmd_eigs", "dmd", "random"),
    )
    dmd_delays: int = setting(
        1, "The DMD model's frames stacked: 1, the paper's DMD; 2, Hankel DMD.", at_least(1)
    )
    model_size: int = setting(25, "Complex state size D of the modal models.", at_least(1))
    r_min: float = setting(
        0.99,
        "Random start: |λ| uniform in [r_min, r_max] (as the seed's LRU), of every state.",
        between(0, 1, closed=False),
    )
    r_max: float = setting(0.9999, "Random start: the largest |λ|.", between(0, 1, closed=False))
    max_phase: float = setting(math.pi, "Random start: arg λ uniform in [0, max_phase].", above(0))
    dynamics: str = setting(
        "lru", "Koopman's eigenvalue parameterisation: lru or discrete.", one_of("lru", "discrete")
    )
    encoder_hidden: int = setting(
        0, "Koopman models: add an MLP of this width to the linear encoder (0: none).", at_least(0)
    )
    bank: int = setting(
        0,
        "Koopman from DMD (init=dmd): this many more states per DMD mode, at its frequency raised by "
        "bank_step, 2·bank_step, ... (models.frequency_bank); 0: none.",
        at_least(0),
    )
    bank_modes: int = setting(
        0,
        "The bank's DMD modes, strongest first; 0: the simulated modes (the string's 10 at 4 kHz, 25 "
        "at 16 kHz), at most model_size.",
        at_least(0),
    )
    bank_step: float = setting(1e-3, "Relative frequency step of the bank.", above(0))
    pitch: bool = setting(False, "Koopman_var: raise each pluck's frequencies by an MLP of its |x0|².")
    # The recipe of the gradient-trained modal models: a number of steps, never of seconds.
    steps: int = setting(600, "Adam steps of each modal model.", at_least(1))
    batch: int = setting(16, "Trajectories per training step.", at_least(1))
    lr: float = setting(1e-2, "Adam rate (cosine-decayed) of every parameter but the eigenvalues.", above(0))
    lr_dynamics: float = setting(
        1e-6, "Adam rate (cosine-decayed) of the eigenvalue parameters.", at_least(0)
    )
    lr_var: float = setting(0.0, "Koopman_var's rate in place of lr (its gain included); 0: lr.", at_least(0))
    steps_var: int = setting(0, "Koopman_var's steps in place of steps; 0: steps.", at_least(0))
    lr_dynamics_var: float = setting(
        0.0,
        "Koopman_var's rate of the eigenvalue parameters in place of lr_dynamics; 0: lr_dynamics.",
        at_least(0),
    )
    window: int = setting(
        0, "First curriculum window, steps, doubled in stages to the whole; 0: whole.", at_least(0)
    )
    eigen_rate_by_window: float = setting(
        0.0,
        "p: the eigenvalues' rate times (first window / window)^p, so that at p = 1 a step turns a "
        "window's last phase as far in every stage; 0: the rate alone.",
        between(0, 1),
    )
    anchor: bool = setting(
        False,
        "Windows start at each trajectory's first frame, not at random offsets (from u alone a later "
        "frame's velocity is unknown; the plucks start at rest).",
    )
    latent: float = setting(0.0, "Weight of the paper's per-step latent loss.", at_least(0))
    slope: float = setting(
        0.0,
        "Weight of a loss on the error's slope along a 1-D grid (differences times W − 1): a string's "
        "mode n weighted 1 + slope·(nπ)², as its energy weighs it; 0: none.",
        at_least(0),
    )
    slope_var: float = setting(
        -1.0, "Koopman_var's weight of the slope loss in place of slope; negative: slope."
    )
    loss_frames: int = setting(
        0,
        "Score a window longer than this on this many random frames, the same for the batch; 0: all.",
        at_least(0),
    )
    clip: float = setting(1.0, "Global gradient-norm clip.", above(0))
    weight_decay: float = setting(
        0.0,
        "Decoupled weight decay (AdamW) of every parameter but the eigenvalues, times the rate.",
        at_least(0),
    )
    curve_plucks: int = setting(
        20,
        "The validation curve (twenty points a run) scores the first this many validation plucks; 0: "
        "all. The final score is always over all.",
        at_least(0),
    )
    budget: float = setting(
        0.0, "Opt-in guard: stop a model after this many seconds of training; 0: never.", at_least(0)
    )
    gru_steps: int = setting(
        1500, "Adam steps of the GRU (0.75 s a step on whole 4000-step rollouts here).", at_least(1)
    )
    gru_lr: float = setting(3e-3, "Adam rate of the GRU (at 1e-2 it learned nothing).", above(0))
    gru_hidden: int = setting(
        128,
        "The GRU's state: the first frame lifted to this many features (Dense), each state read out to a "
        "frame (Dense); 0: the seed's baseline, the first frame itself the carry and the state the frame.",
        at_least(0),
    )
    gru_window: int = setting(
        16, "The GRU's first curriculum window, doubled in stages to the whole; 0: whole.", at_least(0)
    )
    gru_dmd_steps: int = setting(
        300,
        "Adam steps of the DMD-started GRU, on whole trajectories (its start is the whole fit).",
        at_least(1),
    )
    gru_dmd_lr: float = setting(
        1e-4, "Adam rate of the DMD-started GRU's lift, readout and gates (at 1e-3 it rose again).", above(0)
    )
    gru_dmd_lr_recurrent: float = setting(
        1e-7,
        "Adam rate of the DMD-started GRU's recurrence (its cell), whose eigenvalues are DMD's: a "
        "frequency error δθ grows to T·δθ over a T-step rollout.",
        at_least(0),
    )
    # The paper's state-space models (ssm.py), at the size whose seeds of a column train in under 30
    # minutes on two CPU cores; PAPER_SSM below is the paper's size and recipe.
    lru_layers: int = setting(
        2, "LRU: layers, the one-to-many first one included (the paper's 6).", at_least(1)
    )
    s5_layers: int = setting(
        2, "S5: layers, the one-to-many first one included (the paper's 4).", at_least(1)
    )
    ssm_states: int = setting(
        64, "LRU and S5: states of each layer, S5's as conjugate pairs (the paper's 128).", at_least(2)
    )
    s5_blocks: int = setting(
        8, "S5: HiPPO-N blocks of its states, each of an even size (the paper's 16).", at_least(1)
    )
    ssm_steps: int = setting(2500, "LRU and S5: AdamW steps (the paper's up to 16000).", at_least(1))
    ssm_lr: float = setting(3e-3, "LRU and S5: AdamW rate, weight decay 1e-4 (the paper's 1e-3).", above(0))
    ssm_lr_recurrent: float = setting(
        3e-2,
        "LRU and S5: Adam rate of the eigenvalues' parameters (ssm.EIGENVALUE_PARAMS), and of B and C "
        "unless ssm_lr_io; 0: a quarter of ssm_lr, the paper's.",
        at_least(0),
    )
    ssm_lr_io: float = setting(
        0.0,
        "LRU and S5: Adam rate of B and C (ssm.IO_PARAMS), without weight decay; 0: ssm_lr_recurrent's, "
        "as the paper trains every recurrent parameter at one rate.",
        at_least(0),
    )
    ssm_window: int = setting(
        32,
        "LRU and S5: first curriculum window, doubled in stages to the whole; 0: whole (the paper's).",
        at_least(0),
    )
    seed: int = setting(0, "First seed of the models' initialisation and batches.", at_least(0))
    seeds: int = setting(1, "Seeds of each trained modal model, from seed (DMD has one).", at_least(1))
    gru_seeds: int = setting(1, "Seeds of the GRU.", at_least(1))
    restarts: int = setting(
        1,
        "Starts of each trained seed, each its own random start and batches, trained alike; the one of "
        "lowest error on the training plucks is kept, the seconds are all of theirs.",
        at_least(1),
    )
    restarts_var: int = setting(0, "Koopman_var's restarts in place of restarts; 0: restarts.", at_least(0))
    data_seed: int = setting(0, "Seed of the simulated plucks, fixed across the models' seeds.", at_least(0))
    speed: bool = setting(True, "Time synthesis: × real time at fs and 48 kHz, 64-sample blocks.")


# The paper's LRU and S5 (physmodjax conf/model/1d_lru.yaml, 1d_s5.yaml, scripts/train_rnn.py): its
# sizes and recipe, whole trajectories from the first step, as flags would set them.
PAPER_SSM = dict(
    lru_layers=6,
    s5_layers=4,
    ssm_states=128,
    s5_blocks=16,
    ssm_steps=16000,
    ssm_lr=1e-3,
    ssm_lr_recurrent=0.0,
    ssm_lr_io=0.0,
    ssm_window=0,
    batch=50,
)


def field_help(config_class):
    """{field name: help} of a configuration class."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(config_class)}


def define_flags(config_class, configs):
    """One flag per field of config_class (default None: the chosen configuration's value), and
    --config, the name of one of `configs` {name: get_config}. Returns the --config flag."""
    default = configs["default"]()
    types = typing.get_type_hints(config_class)
    for f in dataclasses.fields(config_class):
        help_text = f"{f.metadata['help']} (default: {getattr(default, f.name)!r})"
        kind = types[f.name]
        if kind is bool:
            flags.DEFINE_bool(f.name, None, help_text)
        elif kind is int:
            flags.DEFINE_integer(f.name, None, help_text)
        elif kind is float:
            flags.DEFINE_float(f.name, None, help_text)
        elif kind is tuple:
            flags.DEFINE_list(f.name, None, help_text)
        else:
            flags.DEFINE_string(f.name, None, help_text)
    return flags.DEFINE_enum(
        "config",
        "default",
        list(configs),
        "Configuration: " + ", ".join(configs) + "; flags override its fields.",
    )


def given_fields(config_class):
    """{field: value} of the field flags given on the command line, converted to the field's type."""
    types, default = typing.get_type_hints(config_class), config_class()
    given = {}
    for f in dataclasses.fields(config_class):
        value = flags.FLAGS[f.name].value
        if value is None:
            continue
        if types[f.name] is tuple:
            element = type(getattr(default, f.name)[0]) if getattr(default, f.name) else str
            try:
                value = tuple(element(v) for v in value)
            except ValueError:
                raise ConfigError(f"--{f.name}={','.join(value)}: expected {element.__name__}s") from None
        given[f.name] = value
    return given


def shown(value):
    """A value as it would be typed on the command line."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def validate(config, where="--"):
    """ConfigError, naming the first field of `config` whose value has the wrong type or fails the
    field's check, the value and what is expected; `where` prefixes the field's name (a flag: "--")."""
    types = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, kind, check = getattr(config, f.name), types[f.name], f.metadata["check"]
        if kind is float and type(value) is int:
            value = float(value)
        right_type = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and right_type:
            right_type = math.isfinite(value)
        name = "an integer" if kind is int else "a finite number" if kind is float else kind.__name__
        if not right_type:
            raise ConfigError(f"{where}{f.name}={shown(value)}: expected {name}")
        if check is not None and not check.test(value):
            expected = f"{name} {check.expected}" if kind in (int, float) else check.expected
            raise ConfigError(f"{where}{f.name}={shown(value)}: expected {expected}")
    return config


def from_dict(config_class, values):
    """A configuration from a stored dict (a checkpoint's or results file's): lists become tuples;
    a field it lacks takes the class default; a key the class lacks raises ConfigError."""
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown configuration fields {', '.join(unknown)}")
    return config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


# Fields a run from a checkpoint may change: which of its models to evaluate, how they are heard, and
# on what they are scored beyond the training distribution.
FREE_ON_LOAD = ("models", "speed", "pickup", "shifts", "horizon", "louder", "softer")


def resolve(config_class, configs, name, all_models, saved=None, directory=None):
    """The configuration the command line asks for, every field checked (`validate`): configs[name]()
    with the field flags given, or, from a checkpoint in `directory`, its `saved` fields, which flags
    may change only for FREE_ON_LOAD fields. `--models=all` is all_models. Raises ConfigError in one
    line for a value that cannot be."""
    given = given_fields(config_class)
    if given.get("models") == ("all",):
        given["models"] = tuple(all_models)
    unknown = [m for m in given.get("models", ()) if m not in all_models]
    if unknown or given.get("models") == ():
        raise ConfigError(
            f"--models={','.join(given['models'])}: expected some of {', '.join(all_models)}, or all"
        )
    if saved is None:
        return validate(dataclasses.replace(configs[name](), **given))
    try:
        config = validate(from_dict(config_class, saved), where="")
    except ConfigError as error:
        raise ConfigError(f"--load={directory}: its configuration's {error}") from None
    for key, value in given.items():
        if key not in FREE_ON_LOAD and value != getattr(config, key):
            raise ConfigError(
                f"--load={directory}: {key} is {value!r} here, {getattr(config, key)!r} in the checkpoint"
            )
    missing = [m for m in given.get("models", ()) if m not in config.models]
    if missing:
        raise ConfigError(
            f"--load={directory}: no {', '.join(missing)} in the checkpoint "
            f"(it has {', '.join(config.models)})"
        )
    return validate(dataclasses.replace(config, **given))
