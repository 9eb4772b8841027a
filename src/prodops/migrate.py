"""Running Alembic migrations from the package (used by `prodops db upgrade`, `prodops demo` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from prodops.platform.config import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", get_settings().sqlalchemy_url.replace("%", "%%"))
    return cfg


def upgrade(revision: str = "head") -> None:
    get_settings().ensure_data_dir()
    command.upgrade(alembic_config(), revision)
