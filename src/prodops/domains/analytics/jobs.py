"""Analytics background jobs: loading the operational datasets other domains register into the warehouse."""

from __future__ import annotations

import logging

from huey import crontab

from prodops.domains.analytics.service import datasets
from prodops.platform.db import session_scope
from prodops.platform.jobs import periodic, task

log = logging.getLogger(__name__)


def run_load_datasets() -> dict[str, int]:
    with session_scope() as session:
        loaded = datasets.load_datasets(session)
    log.info("loaded datasets into the warehouse: %s", loaded)
    return loaded


@task()
def load_datasets_now() -> None:
    """Load every registered dataset now (the dashboards page's "Reload datasets")."""
    run_load_datasets()


@periodic(crontab(minute="7"))
def load_datasets_job() -> None:
    """Every hour: copy every registered operational dataset into the warehouse as ``ds_<name>``."""
    run_load_datasets()
