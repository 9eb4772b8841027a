"""Alembic environment: one metadata for the platform and every installed domain."""

from __future__ import annotations

from alembic import context

from prodops.platform.config import get_settings
from prodops.platform.db import Base, make_engine
from prodops.platform.registry import load_domains

load_domains()
target_metadata = Base.metadata
config = context.config


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave out PostgreSQL-only trigram indexes (made by migration 0005, not declared on the models)."""
    return not (type_ == "index" and name is not None and name.endswith("_trgm"))


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
