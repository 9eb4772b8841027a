"""Feedback background jobs: polling the inbound e-mail mailbox over IMAP (off unless `PRODOPS_IMAP_HOST` is set),
and the analysis of every item (type, sentiment, near-duplicates, theme) as it arrives and in a periodic sweep."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from huey import crontab

from prodops.domains.feedback import service
from prodops.domains.feedback.service import channels
from prodops.platform import events
from prodops.platform.config import get_settings
from prodops.platform.db import session_scope
from prodops.platform.jobs import periodic, task

log = logging.getLogger(__name__)

# Polls that overlap (a slow mailbox, a worker with several threads) would only repeat work: capturing a message
# twice updates the same item. The lock saves that work; it is per process, so it can never be left stuck by a crash.
_polling = threading.Lock()


def run_imap_poll() -> channels.PollResult | None:
    """One poll of the configured mailbox; None when IMAP is off or another poll is still running."""
    settings = get_settings()
    if not settings.imap_host:
        return None
    if not _polling.acquire(blocking=False):
        log.info("IMAP poll skipped: the previous poll is still running")
        return None
    try:
        with session_scope() as session:
            return channels.poll_imap(session, settings)
    finally:
        _polling.release()


@periodic(crontab(minute=f"*/{get_settings().imap_interval_minutes}"))
def poll_imap_job() -> None:
    """Every `PRODOPS_IMAP_INTERVAL_MINUTES`: capture the unseen messages of the IMAP mailbox as feedback."""
    try:
        result = run_imap_poll()
    except channels.ImapFailed as exc:
        log.warning("IMAP poll failed: %s", exc.message)
        return
    if result is not None and (result.fetched or result.failed):
        log.info(
            "IMAP poll: %d fetched, %d captured (%d new), %d failed",
            result.fetched,
            result.ingested,
            result.created,
            result.failed,
        )


# --- intelligence: analyse every item in the background (pages only read the stored results) ----------------------

#: Items per analysis job: ingest enqueues new items in jobs of this size.
ANALYSIS_JOB_SIZE = 1000
#: The sweep stops after this long and picks up the rest next time (a model change re-analyses everything).
SWEEP_SECONDS = 240


def _analysis() -> Any:
    from prodops.domains.feedback.service import analysis

    return analysis


@task()
def analyse_items(ids: list[int]) -> None:
    """Analyse these items (type, sentiment, near-duplicates, theme). A failure is logged, never raised: the items
    stay stale and the sweep tries them again."""
    try:
        with session_scope() as session:
            _analysis().analyse(session, ids)
    except Exception:
        log.exception("analysis of %d feedback item(s) failed; the sweep will retry them", len(ids))


@task()
def refresh_feature_vectors(ids: list[int]) -> None:
    """Re-embed these features when their text changed; drop the vectors of merged or deleted ones."""
    try:
        with session_scope() as session:
            _analysis().refresh_feature_vectors(session, ids)
    except Exception:
        log.exception("embedding features %s failed; the sweep will retry them", ids[:10])


def run_analysis_sweep(*, seconds: float = SWEEP_SECONDS) -> int:
    """Feature vectors first (suggestions need them), then stale items in batches until none are left or time is
    up. Returns how many items were analysed."""
    analysis = _analysis()
    done = 0
    started = time.monotonic()
    with session_scope() as session:
        analysis.refresh_feature_vectors(session)
        while time.monotonic() - started < seconds:
            ids = analysis.stale_items(session, limit=ANALYSIS_JOB_SIZE)
            if not ids:
                break
            result = analysis.analyse(session, ids)
            done += result.analysed
            if result.analysed == 0:
                break
    return done


@periodic(crontab(minute="*/10"))
def analyse_stale() -> None:
    """Every 10 minutes: analyse items that have no analysis yet or one made by older models."""
    try:
        done = run_analysis_sweep()
    except Exception:
        log.exception("the analysis sweep failed")
        return
    if done:
        log.info("analysis sweep: %d feedback item(s) analysed", done)
    try:
        if _first_themes_due():  # a new installation (or the demo) gets its themes without waiting for the night
            run_recluster()
    except Exception:
        log.exception("the first re-clustering failed")


def _first_themes_due() -> bool:
    from prodops.domains.feedback.service import themes

    with session_scope() as session:
        return themes.first_themes_due(session)


def _enqueue(ids: Sequence[int]) -> None:
    for start in range(0, len(ids), ANALYSIS_JOB_SIZE):
        analyse_items(list(ids[start : start + ANALYSIS_JOB_SIZE]))


@events.subscribe(service.ITEM_CREATED)
def _analyse_created(event: events.Event) -> None:
    _enqueue([int(event.payload["id"])])


@events.subscribe(service.ITEMS_INGESTED)
def _analyse_ingested(event: events.Event) -> None:
    # The event carries the first 10,000 new ids; the sweep finds any others.
    _enqueue([int(i) for i in event.payload.get("created_ids", [])])


@events.subscribe(service.ITEM_UPDATED)
def _analyse_changed(event: events.Event) -> None:
    if {"text", "title"} & set(event.payload.get("changes", {})):
        _enqueue([int(event.payload["id"])])


@events.subscribe("features.feature.*")
def _embed_features(event: events.Event) -> None:
    ids = [event.payload[k] for k in ("id", "source_id", "target_id") if isinstance(event.payload.get(k), int)]
    if ids and event.name != "features.feature.status_changed":
        refresh_feature_vectors(ids)


# --- feedback types: retraining on corrections, and classifiers trained on an admin's own labels ---------------------


def run_retrain(*, force: bool = True) -> Any:
    """Retrain the type model on the shipped data and every correction (see ``service/types.py``); the result, or
    None when the weekly run found no new correction."""
    from prodops.domains.feedback.service import types
    from prodops.platform.audit import Actor

    with session_scope() as session:
        return types.retrain(session, Actor.system("retrain job"), force=force)


@periodic(crontab(minute="23", hour="2", day_of_week="0"))
def retrain_type_model() -> None:
    """Weekly (Sunday 02:23 UTC): retrain the type model when people corrected types since the last retraining."""
    from prodops.platform.errors import ServiceError

    try:
        result = run_retrain(force=False)
    except ServiceError as exc:
        log.info("type model not retrained: %s", exc.message)
        return
    except Exception:
        log.exception("retraining the type model failed")
        return
    if result is not None:
        log.info("type model retrained with %d corrections: %s", result.corrections, result.reason)


@task()
def retrain_type_model_now() -> None:
    """On demand ("Retrain now", `prodops feedback retrain` queues nothing and runs inline): retrain even when no
    correction is new."""
    from prodops.platform.errors import ServiceError

    try:
        result = run_retrain(force=True)
    except ServiceError as exc:
        log.info("type model not retrained: %s", exc.message)
        return
    except Exception:
        log.exception("retraining the type model failed")
        return
    log.info("type model retrained with %d corrections: %s", result.corrections, result.reason)


@task()
def evaluate_text_model(model_id: int) -> None:
    """Cross-validate and train a classifier on an admin's labelled file (the page polls the model's state)."""
    from prodops.domains.feedback.service import text_models

    try:
        with session_scope() as session:
            text_models.run_candidate(session, model_id)
    except Exception:
        log.exception("evaluating text model %s failed", model_id)


# --- themes: the nightly re-clustering and the weekly emerging-theme check ------------------------------------------


def run_recluster() -> Any:
    """Re-cluster all analysed feedback into themes now (returns the ``ReclusterResult``)."""
    from prodops.domains.feedback.service import themes

    with session_scope() as session:
        result = themes.recluster(session)
    log.info("themes: %s", result.summary())
    return result


def run_emerging_check(week: str | None = None) -> Any:
    """Test the themes of ``week`` (default: this week so far) and notify the admins (returns the report)."""
    from prodops.domains.feedback.service import themes

    with session_scope() as session:
        report = themes.check_emerging(session, week)
    if report.notified:
        log.info("emerging themes in %s: %s", report.week, report.notified)
    return report


@task()
def recluster_themes_now() -> None:
    """On demand (themes page, API): re-cluster feedback into themes; renames, merges and splits are kept."""
    run_recluster()


@periodic(crontab(minute="47", hour="2"))
def recluster_themes() -> None:
    """Nightly at 02:47 UTC: re-cluster feedback into themes."""
    run_recluster()


@task()
def check_emerging_themes_now(week: str | None = None) -> None:
    """On demand: the emerging-theme check of one ISO week (default: this week so far)."""
    run_emerging_check(week)


@periodic(crontab(minute="5", hour="7", day_of_week="1"))
def check_emerging_themes() -> None:
    """Mondays at 07:05 UTC: the emerging-theme check of the ISO week that just ended."""
    import datetime as dt

    from prodops.domains.feedback.queries.themes import iso_week
    from prodops.platform.db import utcnow

    run_emerging_check(iso_week(utcnow() - dt.timedelta(days=7)))
