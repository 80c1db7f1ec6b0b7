"""The examples' configurations: every setting one field with its meaning, each a flag."""

import dataclasses
import json

import pytest
from conftest import run_python

from examples.membrane.configs import CONFIGS as MEMBRANE_CONFIGS
from examples.membrane.configs.default import Config as MembraneConfig
from examples.string.configs import CONFIGS
from examples.string.configs.base import ConfigError, from_dict, validate
from examples.string.configs.default import Config


@pytest.mark.parametrize("config_class", [Config, MembraneConfig])
def test_every_field_says_what_it_means(config_class):
    for field in dataclasses.fields(config_class):
        assert len(field.metadata.get("help", "")) > 10, field.name


@pytest.mark.parametrize("configs, config_class", [(CONFIGS, Config), (MEMBRANE_CONFIGS, MembraneConfig)])
def test_each_table_is_a_configuration_that_round_trips(configs, config_class):
    for get_config in configs.values():
        config = get_config()
        assert from_dict(config_class, json.loads(json.dumps(dataclasses.asdict(config)))) == config


def test_help_lists_the_configuration_and_an_old_checkpoint_is_one_line(tmp_path):
    result = run_python("-m", "examples.string", "--help", timeout=120)
    for field in dataclasses.fields(Config):
        name = f"[no]{field.name}" if field.type is bool else field.name
        assert f"  --{name}: {field.metadata['help'].split()[0]}" in result.stdout, field.name
    (tmp_path / "config.json").write_text(json.dumps({"format": "examples.string checkpoint, version 1"}))
    result = run_python("-m", "examples.string", f"--load={tmp_path}", timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "earlier version" in lines[0], result.stderr


def test_an_unknown_field_is_refused():
    with pytest.raises(ValueError, match="unknown configuration fields steps_per_second"):
        from_dict(Config, {"steps_per_second": 3})


BAD = [
    ("steps", -3, "--steps=-3: expected an integer ≥ 1"),
    ("batch", 0, "--batch=0: expected an integer ≥ 1"),
    ("lr", -0.01, "--lr=-0.01: expected a finite number > 0"),
    ("fs", 0.0, "--fs=0.0: expected a finite number > 0"),
    ("points", 1, "--points=1: expected an integer ≥ 3"),
    ("train", 0, "--train=0: expected an integer ≥ 1"),
    ("peak", (0.01, 0.001), "--peak=0.01,0.001: expected two values a,b with 0 < a ≤ b"),
    ("ic", "sine", "--ic=sine: expected one of gaussian, noise"),
    ("steps", 2.5, "--steps=2.5: expected an integer"),
]


@pytest.mark.parametrize("field, value, message", BAD, ids=[f"{f}={v}" for f, v, _ in BAD])
def test_a_bad_setting_names_the_flag_the_value_and_what_is_expected(field, value, message):
    with pytest.raises(ConfigError) as error:
        validate(dataclasses.replace(Config(), **{field: value}))
    assert str(error.value).startswith(message), error.value


@pytest.mark.parametrize("get_config", [*CONFIGS.values(), *MEMBRANE_CONFIGS.values()])
def test_every_configuration_passes_its_checks(get_config):
    validate(get_config())


def run_example(*args, code=None):
    return run_python("-c", code, *args) if code else run_python("-m", "examples.string", *args)


@pytest.mark.parametrize("flag", ["--steps=-3", "--peak=0.01,0.001"])
def test_a_bad_flag_is_one_line_and_exit_2(flag):
    result = run_example(flag, "--figure=")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"examples.string: {flag}")


@pytest.mark.slow
def test_an_error_inside_jax_keeps_its_traceback():
    """A bug (here a ValueError raised by JAX inside the model, in training) is not a setting:
    its ValueError keeps its traceback instead of becoming one line."""
    code = (
        "import sys, jax.numpy as jnp; from absl import app;"
        "from examples.string import __main__ as m, models;"
        "models.KoopmanString.decode = lambda self, x, width: jnp.split(jnp.ones(5), 2);"
        "sys.argv = ['examples.string'] + sys.argv[1:]; app.run(m.main)"
    )
    tiny = ["--train=2", "--val=1", "--samples=40", "--points=7", "--models=koopman_var", "--nospeed"]
    result = run_example(*tiny, "--figure=", code=code)
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert "ValueError: array split does not result in an equal division" in result.stderr, result.stderr[
        -2000:
    ]
