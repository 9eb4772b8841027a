"""Feedback use cases: the only place that writes feedback.

Other domains (portal, surveys, escalations) call this package, never the models or queries:

- capture feedback from any channel: :func:`ingest` (one item, idempotent by source + external id) and
  :func:`ingest_many` (a batch, all or nothing);
- triage: :func:`update_item`, :func:`bulk_change`, :func:`delete_item`;
- evidence: :func:`link_feature` / :func:`unlink`, :func:`ingest_linked` (ingest and link in bulk, for channels
  that know the feature), :func:`items_by_external_id` (find what a channel filed), :func:`requesters` (who asked
  for a feature) and :func:`demand_facts` (items, votes, accounts and ARR asking for each feature).

Every write is audited and emits a ``feedback.*`` event after commit.
"""

from prodops.domains.feedback.service import loop  # close the loop: subscribes to feature status changes
from prodops.domains.feedback.service.demand import DemandFacts, demand_facts
from prodops.domains.feedback.service.items import (
    ITEM_CREATED,
    ITEM_DELETED,
    ITEM_LINKED,
    ITEM_UNLINKED,
    ITEM_UPDATED,
    ITEMS_INGESTED,
    bulk_change,
    delete_item,
    ingest,
    ingest_linked,
    ingest_many,
    items_by_external_id,
    link_feature,
    move_links,
    requesters,
    unlink,
    update_item,
)

__all__ = [
    "ITEMS_INGESTED",
    "ITEM_CREATED",
    "ITEM_DELETED",
    "ITEM_LINKED",
    "ITEM_UNLINKED",
    "ITEM_UPDATED",
    "DemandFacts",
    "bulk_change",
    "delete_item",
    "demand_facts",
    "ingest",
    "ingest_linked",
    "ingest_many",
    "items_by_external_id",
    "link_feature",
    "loop",
    "move_links",
    "requesters",
    "unlink",
    "update_item",
]
