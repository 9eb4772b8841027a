"""Features use cases: the only place that writes features, their statuses, votes and subscribers.

Other domains call this module (never the models or queries):

- show features: :func:`get_feature`, :func:`features_by_id` (one statement), :func:`list_features`,
  :func:`feature_choices` (for a link-to-feature picker), :func:`resolve_feature_id` (follows merges);
- close the loop: :func:`subscriber_person_ids`, :func:`voter_person_ids`, and the
  ``features.feature.status_changed`` event (its ``notify`` says whether to tell them);
- move their own rows when features merge: :func:`on_merge` (``hook(session, source_id, target_id)`` runs
  inside the merge's transaction);
- lifecycles and facets: :func:`statuses_for`, :func:`areas`, :func:`all_tags`;
- join features or votes in grouped SQL: :func:`feature_facts`, :func:`vote_rows`.

Every write is audited (before → after) and emits a ``features.*`` event after commit.
"""

from typing import Any

from sqlalchemy import Select, select

from prodops.domains.features import queries
from prodops.domains.features.models import Feature, FeatureVote
from prodops.domains.features.service._shared import (
    FEATURE_CREATED,
    FEATURE_DELETED,
    FEATURE_MERGED,
    FEATURE_UPDATED,
    STATUS_CHANGED,
    STATUSES_UPDATED,
    SUBSCRIBER_ADDED,
    SUBSCRIBER_REMOVED,
    VOTE_ADDED,
    VOTE_REMOVED,
)
from prodops.domains.features.service.features import create_feature, delete_feature, set_status, update_feature
from prodops.domains.features.service.merge import MergeHook, merge_features, on_merge
from prodops.domains.features.service.people import (
    add_vote,
    add_vote_by_email,
    feature_subscribers,
    feature_votes,
    remove_vote,
    subscribe,
    subscribe_by_email,
    unsubscribe,
)
from prodops.domains.features.service.statuses import reset_statuses, set_statuses

# --- reads other domains use ----------------------------------------------------------------

get_feature = queries.get_feature
features_by_id = queries.features_by_id
resolve_feature_id = queries.resolve_feature_id
list_features = queries.list_features
feature_choices = queries.feature_choices
subscriber_person_ids = queries.subscriber_person_ids
voter_person_ids = queries.voter_person_ids
statuses_for = queries.statuses_for
areas = queries.areas
all_tags = queries.all_tags


def feature_facts() -> Select[*tuple[Any, ...]]:
    """``SELECT feature_id, title, product_id, area, team_id, status, merged_into_id`` of every feature, to join in
    grouped SQL (feedback ranks features by demand in one statement; roadmap ranks them by score)."""
    return select(
        Feature.id.label("feature_id"),
        Feature.title.label("title"),
        Feature.product_id.label("product_id"),
        Feature.area.label("area"),
        Feature.team_id.label("team_id"),
        Feature.status.label("status"),
        Feature.merged_into_id.label("merged_into_id"),
    )


def vote_rows() -> Select[*tuple[Any, ...]]:
    """``SELECT feature_id, person_id, created_at`` of every vote, to fold votes into grouped SQL (demand)."""
    return select(
        FeatureVote.feature_id.label("feature_id"),
        FeatureVote.person_id.label("person_id"),
        FeatureVote.created_at.label("created_at"),
    )


__all__ = [
    "FEATURE_CREATED",
    "FEATURE_DELETED",
    "FEATURE_MERGED",
    "FEATURE_UPDATED",
    "STATUSES_UPDATED",
    "STATUS_CHANGED",
    "SUBSCRIBER_ADDED",
    "SUBSCRIBER_REMOVED",
    "VOTE_ADDED",
    "VOTE_REMOVED",
    "MergeHook",
    "add_vote",
    "add_vote_by_email",
    "all_tags",
    "areas",
    "create_feature",
    "delete_feature",
    "feature_choices",
    "feature_facts",
    "feature_subscribers",
    "feature_votes",
    "features_by_id",
    "get_feature",
    "list_features",
    "merge_features",
    "on_merge",
    "remove_vote",
    "reset_statuses",
    "resolve_feature_id",
    "set_status",
    "set_statuses",
    "statuses_for",
    "subscribe",
    "subscribe_by_email",
    "subscriber_person_ids",
    "unsubscribe",
    "update_feature",
    "vote_rows",
    "voter_person_ids",
]
