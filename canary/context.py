"""The objects every operation needs, built once and passed down (never read from globals)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from canary.db import Database, utcnow
from canary.security.crypto import KeyRing, create_master_key_file
from canary.settings import Settings, load_settings

Clock = Callable[[], dt.datetime]


@dataclass
class Context:
    settings: Settings
    db: Database
    keys: KeyRing
    clock: Clock = field(default=utcnow)

    def close(self) -> None:
        self.db.dispose()


def init_home(settings: Settings) -> bool:
    """Create the home folder and the master key (if none is configured). Idempotent."""
    settings.home_path.mkdir(parents=True, exist_ok=True)
    if settings.master_key:
        return False
    return create_master_key_file(settings.key_path)


def open_context(
    settings: Settings | None = None,
    *,
    initialise: bool = False,
    upgrade: bool = True,
    clock: Clock = utcnow,
) -> Context:
    """Load keys, connect to the database and bring its schema to head."""
    settings = settings or load_settings()
    if initialise:
        init_home(settings)
    keys = KeyRing.load(settings.master_key, settings.key_path)
    db = Database(settings.resolved_database_url)
    if upgrade:
        db.upgrade()
    return Context(settings=settings, db=db, keys=keys, clock=clock)
