"""The examples' configurations: every setting one field with its meaning, each a flag."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from examples.membrane.configs import CONFIGS as MEMBRANE_CONFIGS
from examples.membrane.configs.default import Config as MembraneConfig
from examples.string.configs import CONFIGS
from examples.string.configs.base import from_dict
from examples.string.configs.default import Config

ROOT = Path(__file__).resolve().parents[1]


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
    result = subprocess.run(
        [sys.executable, "-m", "examples.string", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for field in dataclasses.fields(Config):
        name = f"[no]{field.name}" if field.type is bool else field.name
        assert f"  --{name}: {field.metadata['help'].split()[0]}" in result.stdout, field.name
    (tmp_path / "config.json").write_text(json.dumps({"format": "examples.string checkpoint, version 1"}))
    result = subprocess.run(
        [sys.executable, "-m", "examples.string", f"--load={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "earlier version" in lines[0], result.stderr


def test_an_unknown_field_is_refused():
    with pytest.raises(ValueError, match="unknown configuration fields steps_per_second"):
        from_dict(Config, {"steps_per_second": 3})
