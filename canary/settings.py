"""Typed settings, loaded once from config/*.toml and CANARY_* environment variables.

Order of precedence (last wins): ``config/default.toml`` shipped with the code, a
TOML file named by ``CANARY_CONFIG``, explicit overrides passed by the caller (tests,
the demo), then ``CANARY_<KEY>`` environment variables.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from canary.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "CANARY_"


@dataclass(frozen=True)
class Settings:
    home: str = "var"
    database_url: str = ""
    key_file: str = ""
    master_key: str = ""
    public_base_url: str = "http://127.0.0.1:8080"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_base: str = ""
    canaries_per_copy: int = 1
    period: str = "week"
    locale: str = "zh_CN"
    quarantine_days: int = 14
    cooldown_days: int = 30
    max_upload_bytes: int = 50 * 1024 * 1024
    xlsx_max_unpacked_bytes: int = 1024 * 1024 * 1024
    xlsx_max_ratio: float = 200.0
    xlsx_max_members: int = 10_000
    xlsx_max_cells: int = 20_000_000
    scheduler_in_serve: bool = True
    attribute_in_webhook: bool = True
    incident_open_threshold: float = 0.99
    attribution_lookback_days: int = 90
    circulation_days: int = 3 * 365
    webhook_max_bytes: int = 64 * 1024
    webhook_journal: bool = True
    webhook_journal_fsync: bool = False
    webhook_journal_storer: str = "process"
    speech_to_text: str = ""
    outbox_interval_seconds: int = 10
    poll_interval_seconds: int = 300
    watch_interval_seconds: int = 30
    alert_max_attempts: int = 8
    alert_backoff_base_seconds: float = 5.0
    alert_backoff_max_seconds: float = 3600.0
    alert_timeout_seconds: float = 10.0
    greeting_zh_CN: str = ""
    greeting_en_US: str = ""
    log_level: str = "INFO"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_path / 'canary.db'}"

    @property
    def key_path(self) -> Path:
        if self.key_file:
            return Path(self.key_file).expanduser().resolve()
        return self.home_path / "keys" / "master.key"

    @property
    def journal_path(self) -> Path:
        """Where webhooks wait, encrypted, between their answer and their batch insert."""
        return self.home_path / "journal"

    @property
    def keys_dir(self) -> Path:
        return self.key_path.parent

    def greeting(self, locale: str) -> str:
        return str(
            getattr(self, f"greeting_{locale}", "") or self.extra.get(f"greeting_{locale}", "")
        )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, target: type | str) -> Any:
    kind = target if isinstance(target, str) else target.__name__
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot read {raw!r} as {kind}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def load_settings(
    overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Build the settings object from files, overrides and environment."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    values.update(_read_toml(DEFAULT_CONFIG))
    if environ.get("CANARY_CONFIG"):
        values.update(_read_toml(Path(environ["CANARY_CONFIG"]).expanduser()))
    values.update(overrides or {})
    known = {f.name: f for f in fields(Settings) if f.name != "extra"}
    for key, raw in environ.items():
        if key.startswith(ENV_PREFIX) and key != "CANARY_CONFIG":
            name = key[len(ENV_PREFIX) :].lower()
            # Locale-suffixed keys keep their case (greeting_zh_CN).
            match = next((k for k in known if k.lower() == name), None)
            values[match or name] = raw
    typed: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, raw in values.items():
        if key in known:
            typed[key] = _coerce(key, raw, known[key].type)
        else:
            extra[key] = raw
    return Settings(**typed, extra=extra)
