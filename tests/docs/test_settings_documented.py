"""The configuration reference cannot drift: every setting is in the README and the defaults."""

import dataclasses
import tomllib
from pathlib import Path

from canary.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _setting_names():
    return [f.name for f in dataclasses.fields(Settings) if f.name != "extra"]


def test_every_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in _setting_names() if f"`{name}`" not in readme]
    assert not missing, f"settings missing from README: {missing}"


def test_every_setting_has_a_default_in_config():
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text())
    missing = [n for n in _setting_names() if n not in defaults and n != "master_key"]
    assert not missing, f"settings missing from config/default.toml: {missing}"


def test_environment_overrides_files():
    s = load_settings(
        environ={"CANARY_CANARIES_PER_COPY": "3", "CANARY_SCHEDULER_IN_SERVE": "false"}
    )
    assert s.canaries_per_copy == 3 and s.scheduler_in_serve is False
