"""The warehouse tables that usage analytics owns, and the one function that creates them.

Every insight reads these tables; ingestion is the only writer of ``events``, ``persons``,
``person_distinct_ids`` and ``person_overrides``; ``accounts`` mirrors the customers domain.

Person identity (the PostHog model): every distinct id (Segment ``userId``/``anonymousId``, PostHog
``distinct_id``) maps to one warehouse person in ``person_distinct_ids``. ``events.person_id`` is the
person the distinct id belonged to when the event arrived. When identify/alias merges two persons, the
loser is recorded in ``person_overrides`` (kept flat: no chains), so the person of an event is
``COALESCE(o.new_person_id, e.person_id)`` with ``LEFT JOIN person_overrides o ON o.old_person_id = e.person_id``.
"""

from __future__ import annotations

from prodops.platform.warehouse import Warehouse

TABLES: dict[str, str] = {
    "events": """
        CREATE TABLE IF NOT EXISTS events (
            uuid VARCHAR NOT NULL,          -- messageId (Segment) / uuid (PostHog) / generated: the de-duplication key
            event VARCHAR NOT NULL,         -- track name; '$identify', '$pageview' (page), '$screen', '$groupidentify'...
            distinct_id VARCHAR NOT NULL,   -- userId or anonymousId (Segment), distinct_id (PostHog)
            person_id BIGINT NOT NULL,      -- see the module docstring for merges
            account_id BIGINT,              -- customers account id when known (group call or the person's account)
            timestamp TIMESTAMP NOT NULL,   -- UTC, corrected for client clock skew
            received_at TIMESTAMP NOT NULL, -- UTC, server time
            source_id INTEGER NOT NULL,     -- the event source (write key) it came through
            properties JSON                 -- event properties (JSON object)
        )""",
    "persons": """
        CREATE TABLE IF NOT EXISTS persons (
            person_id BIGINT PRIMARY KEY,
            customer_person_id BIGINT,      -- customers Person id when matched by e-mail or external id
            external_id VARCHAR,            -- the identified userId
            email VARCHAR,
            name VARCHAR,
            account_id BIGINT,              -- customers Account id
            properties JSON,                -- identify traits
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""",
    "person_distinct_ids": """
        CREATE TABLE IF NOT EXISTS person_distinct_ids (
            distinct_id VARCHAR PRIMARY KEY,
            person_id BIGINT NOT NULL
        )""",
    "person_overrides": """
        CREATE TABLE IF NOT EXISTS person_overrides (
            old_person_id BIGINT PRIMARY KEY,
            new_person_id BIGINT NOT NULL
        )""",
    "accounts": """
        CREATE TABLE IF NOT EXISTS accounts (
            account_id BIGINT PRIMARY KEY,  -- customers Account id
            external_id VARCHAR,
            name VARCHAR,
            plan VARCHAR,
            arr DOUBLE,
            arr_band VARCHAR,               -- e.g. '<10k', '10k-50k', '50k-250k', '250k+'
            segment VARCHAR,                -- the customers domain's account segment (e.g. Enterprise)
            region VARCHAR,
            properties JSON,                -- custom account attributes and group traits
            updated_at TIMESTAMP NOT NULL
        )""",
}


def ensure_schema(wh: Warehouse) -> None:
    """Create the analytics tables if they are missing (idempotent, cheap)."""
    for ddl in TABLES.values():
        wh.execute(ddl)
