"""Who did it: warehouse persons and their distinct ids, merged by identify and alias, linked to the customers
domain's people and accounts; and the warehouse copy of the customers accounts.

Rules (the README's "identity rules"):

- Every distinct id (Segment ``userId``/``anonymousId``, PostHog ``distinct_id``) belongs to one person; an unknown
  one gets a new person.
- ``identify(userId, anonymousId)`` joins the two: if both already have persons, the anonymous one is merged into
  the identified one — unless the anonymous person was already identified as somebody else (then nothing is merged,
  as PostHog does, so one shared device cannot fuse two users). ``alias(userId, previousId)`` always merges.
  A merged person is recorded in ``person_overrides`` pointing straight at the survivor (kept flat).
- A person is linked to a customers Person when its identified id equals that person's external id, or its
  ``email`` trait equals that person's e-mail; the person's account becomes the customers person's account.
- ``group(groupId)`` links the person to the customers Account whose external id, or else whose web domain, equals
  ``groupId``; that account wins over the customers person's account, and every later event of the person carries it.
- Analytics traffic never creates operational customers people or accounts: unknown e-mails and groups stay in the
  warehouse only (creating CRM records from tracking calls would let any app with a write key fill the customer base).

The resolver keeps the whole identity graph in memory (a few hundred bytes per person) and writes only what a flush
changed. It is used by one thread at a time (the pipeline's flush lock).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.platform.warehouse import Warehouse

log = logging.getLogger(__name__)

PERSON_COLUMNS = (
    "person_id", "customer_person_id", "external_id", "email", "name", "account_id", "properties", "created_at",
    "updated_at",
)  # fmt: skip
ACCOUNT_COLUMNS = (
    "account_id", "external_id", "name", "plan", "arr", "arr_band", "segment", "region", "properties", "updated_at",
)  # fmt: skip


def arr_band(arr: float | None) -> str:
    """The ARR band an account falls in: ``<10k``, ``10k-50k``, ``50k-250k`` or ``250k+``."""
    value = arr or 0.0
    if value < 10_000:
        return "<10k"
    if value < 50_000:
        return "10k-50k"
    if value < 250_000:
        return "50k-250k"
    return "250k+"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Person:
    __slots__ = (
        "account_id", "created_at", "customer_person_id", "email", "external_id", "group_account_id", "name",
        "properties",
    )  # fmt: skip

    def __init__(self, created_at: dt.datetime) -> None:
        self.customer_person_id: int | None = None
        self.external_id: str | None = None
        self.email: str | None = None
        self.name: str | None = None
        self.account_id: int | None = None
        self.group_account_id: int | None = None
        self.properties: dict[str, Any] = {}
        self.created_at = created_at


class IdentityResolver:
    """The identity graph in memory, and the changes still to be written to the warehouse."""

    def __init__(self) -> None:
        self.person_of: dict[str, int] = {}
        self.ids_of: dict[int, list[str]] = {}
        self.override: dict[int, int] = {}
        self._merged_into: dict[int, set[int]] = {}
        self.persons: dict[int, Person] = {}
        self.next_id = 1
        # customers facts: e-mail / external id → (customers person id, account id); account external id / domain → id
        self._by_email: dict[str, tuple[int, int | None]] = {}
        self._by_external: dict[str, tuple[int, int | None]] = {}
        self._account_by_key: dict[str, int] = {}
        self._dirty_persons: set[int] = set()
        self._new_persons: set[int] = set()
        self._gone_persons: set[int] = set()
        self._dirty_ids: set[str] = set()
        self._new_ids: set[str] = set()
        self._dirty_overrides: set[int] = set()

    # --- loading ----------------------------------------------------------------------------

    def load(self, wh: Warehouse) -> None:
        """Read the identity graph from the warehouse (start-up)."""
        self.__init__()  # type: ignore[misc]  # start from a clean slate
        for distinct_id, person_id in wh.query("SELECT distinct_id, person_id FROM person_distinct_ids").rows:
            self.person_of[distinct_id] = person_id
            self.ids_of.setdefault(person_id, []).append(distinct_id)
        for old, new in wh.query("SELECT old_person_id, new_person_id FROM person_overrides").rows:
            self.override[old] = new
            self._merged_into.setdefault(new, set()).add(old)
        rows = wh.query(
            "SELECT person_id, customer_person_id, external_id, email, name, account_id, properties, created_at "
            "FROM persons"
        ).rows
        for pid, cpid, ext, email, name, account_id, props, created in rows:
            person = Person(created)
            person.customer_person_id, person.external_id, person.email, person.name = cpid, ext, email, name
            person.account_id = account_id
            person.properties = json.loads(props) if isinstance(props, str) else (props or {})
            self.persons[pid] = person
        top = wh.query(
            "SELECT greatest((SELECT max(person_id) FROM persons), (SELECT max(person_id) FROM person_distinct_ids),"
            " (SELECT max(old_person_id) FROM person_overrides))"
        ).scalar()
        self.next_id = int(top or 0) + 1

    def load_customers(self, session: Session) -> None:
        """Read the customers people and accounts used for matching, and re-link every known person."""
        by_email: dict[str, tuple[int, int | None]] = {}
        by_external: dict[str, tuple[int, int | None]] = {}
        for pid, email, external_id, _name, account_id in session.execute(customers.person_mirror_facts()):
            if email:
                by_email[email.lower()] = (pid, account_id)
            if external_id:
                by_external[external_id] = (pid, account_id)
        account_by_key: dict[str, int] = {}
        accounts = session.execute(customers.account_mirror_facts()).all()
        for row in accounts:
            if row.domain:
                account_by_key.setdefault(row.domain.lower(), row.account_id)
        for row in accounts:
            if row.external_id:
                account_by_key[row.external_id] = row.account_id  # an external id beats a domain
        self._by_email, self._by_external, self._account_by_key = by_email, by_external, account_by_key
        for pid in list(self.persons):
            self._link(pid)

    # --- resolving --------------------------------------------------------------------------

    def _new_person(self, when: dt.datetime) -> int:
        pid = self.next_id
        self.next_id += 1
        self.persons[pid] = Person(when)
        self.ids_of[pid] = []
        self._new_persons.add(pid)
        return pid

    def _map(self, distinct_id: str, pid: int) -> None:
        old = self.person_of.get(distinct_id)
        if old == pid:
            return
        if old is None:
            self._new_ids.add(distinct_id)
        else:
            self._dirty_ids.add(distinct_id)
            ids = self.ids_of.get(old)
            if ids and distinct_id in ids:
                ids.remove(distinct_id)
        self.person_of[distinct_id] = pid
        self.ids_of.setdefault(pid, []).append(distinct_id)

    def resolve(self, distinct_id: str, when: dt.datetime) -> int:
        pid = self.person_of.get(distinct_id)
        if pid is None:
            pid = self._new_person(when)
            self._map(distinct_id, pid)
        return pid

    def has_accounts(self) -> bool:
        """Whether any account is known at all (when not, no event needs an account look-up)."""
        return bool(self._account_by_key or self._by_email or self._by_external)

    def account_of(self, pid: int, group_key: str | None) -> int | None:
        if group_key is not None:
            found = self._account_by_key.get(group_key) or self._account_by_key.get(group_key.lower())
            if found is not None:
                return found
        person = self.persons.get(pid)
        return person.account_id if person is not None else None

    def _merge(self, loser: int, winner: int) -> None:
        """Fold person ``loser`` into ``winner``: its distinct ids move, an override points at the winner."""
        if loser == winner:
            return
        for distinct_id in list(self.ids_of.pop(loser, [])):
            self._map(distinct_id, winner)
        self.override[loser] = winner
        self._dirty_overrides.add(loser)
        children = self._merged_into.pop(loser, set())
        for child in children:  # keep overrides flat: whatever pointed at the loser now points at the winner
            self.override[child] = winner
            self._dirty_overrides.add(child)
        self._merged_into.setdefault(winner, set()).update(children | {loser})
        a, b = self.persons.pop(loser, None), self.persons.get(winner)
        if a is not None and b is not None:
            b.properties = {**a.properties, **b.properties}
            b.email = b.email or a.email
            b.name = b.name or a.name
            b.external_id = b.external_id or a.external_id
            b.group_account_id = b.group_account_id or a.group_account_id
            b.created_at = min(a.created_at, b.created_at)
            self._link(winner)
        self._new_persons.discard(loser)
        self._dirty_persons.discard(loser)
        self._gone_persons.add(loser)
        self._dirty_persons.add(winner)

    def _traits(self, pid: int, traits: dict[str, Any]) -> None:
        person = self.persons[pid]
        if not traits:
            return
        email = traits.get("email")
        if isinstance(email, str) and "@" in email:
            person.email = email.strip().lower()[:320]
        name = traits.get("name")
        if not isinstance(name, str) or not name.strip():
            first, last = (
                traits.get("firstName") or traits.get("first_name"),
                traits.get("lastName") or traits.get("last_name"),
            )
            name = " ".join(str(p) for p in (first, last) if p) or None
        if name:
            person.name = str(name).strip()[:200]
        person.properties = {**person.properties, **traits}
        self._dirty_persons.add(pid)
        self._link(pid)

    def _link(self, pid: int) -> None:
        person = self.persons[pid]
        match = None
        if person.external_id:
            match = self._by_external.get(person.external_id)
        if match is None and person.email:
            match = self._by_email.get(person.email)
        customer_person_id, account_id = match if match is not None else (None, None)
        if person.group_account_id is not None:
            account_id = person.group_account_id
        if (customer_person_id, account_id) != (person.customer_person_id, person.account_id):
            person.customer_person_id, person.account_id = customer_person_id, account_id
            self._dirty_persons.add(pid)

    def apply(self, op: tuple[Any, ...], distinct_id: str, when: dt.datetime) -> None:
        """Apply one identity operation (from :mod:`ingest`) sent with distinct id ``distinct_id``."""
        kind = op[0]
        if kind == "identify":
            self._identify(op[1], op[2], op[3] if isinstance(op[3], dict) else {}, when)
        elif kind == "alias":
            self._alias(op[1], op[2], when)
        elif kind == "set":
            self._traits(self.resolve(distinct_id, when), op[1] if isinstance(op[1], dict) else {})
        elif kind == "group":
            self._group(self.resolve(distinct_id, when), op[1])

    def _identify(self, user_id: str, anonymous_id: str | None, traits: dict[str, Any], when: dt.datetime) -> None:
        pu = self.person_of.get(user_id)
        pa = self.person_of.get(anonymous_id) if anonymous_id else None
        if pu is None and pa is None:
            pid = self._new_person(when)
        elif pu is None:
            assert pa is not None
            other = self.persons[pa].external_id
            pid = pa if other in (None, user_id) else self._new_person(when)
        elif pa is None or pa == pu:
            pid = pu
        else:
            if self.persons[pa].external_id in (None, user_id):
                self._merge(pa, pu)
            pid = pu
        self._map(user_id, pid)
        if anonymous_id and self.person_of.get(anonymous_id) is None:
            self._map(anonymous_id, pid)
        person = self.persons[pid]
        if person.external_id != user_id:
            person.external_id = user_id
            self._dirty_persons.add(pid)
        self._traits(pid, traits)
        self._link(pid)

    def _alias(self, new_id: str, previous_id: str, when: dt.datetime) -> None:
        pn, pp = self.person_of.get(new_id), self.person_of.get(previous_id)
        if pn is None and pp is None:
            pid = self._new_person(when)
            self._map(new_id, pid)
            self._map(previous_id, pid)
        elif pn is None:
            assert pp is not None
            self._map(new_id, pp)
        elif pp is None:
            self._map(previous_id, pn)
        else:
            self._merge(pp, pn)

    def _group(self, pid: int, key: str) -> None:
        account_id = self._account_by_key.get(key) or self._account_by_key.get(key.lower())
        person = self.persons[pid]
        if account_id is not None and person.group_account_id != account_id:
            person.group_account_id = account_id
            person.properties = {**person.properties, "$group_key": key}
            self._dirty_persons.add(pid)
            self._link(pid)

    # --- writing ----------------------------------------------------------------------------

    def pending(self) -> bool:
        return bool(
            self._dirty_persons or self._new_persons or self._gone_persons or self._dirty_ids or self._new_ids
            or self._dirty_overrides
        )  # fmt: skip

    def _person_row(self, pid: int, now: dt.datetime) -> tuple[Any, ...]:
        p = self.persons[pid]
        props = dict(p.properties)
        if p.group_account_id is not None:
            props["$group_account_id"] = p.group_account_id
        return (
            pid, p.customer_person_id, p.external_id, p.email, p.name, p.account_id, json.dumps(props, default=str),
            p.created_at, now,
        )  # fmt: skip

    def write(self, wh: Warehouse) -> None:
        """Write what changed since the last write (persons, distinct ids, overrides)."""
        if not self.pending():
            return
        now = _now()
        changed = (self._dirty_persons - self._new_persons) | self._gone_persons
        _delete(wh, "persons", "person_id", changed)
        rows = [
            self._person_row(pid, now) for pid in sorted(self._dirty_persons | self._new_persons) if pid in self.persons
        ]
        wh.append("persons", PERSON_COLUMNS, rows)
        _delete(wh, "person_distinct_ids", "distinct_id", self._dirty_ids)
        ids = sorted(self._dirty_ids | self._new_ids)
        wh.append("person_distinct_ids", ("distinct_id", "person_id"), [(d, self.person_of[d]) for d in ids])
        _delete(wh, "person_overrides", "old_person_id", self._dirty_overrides)
        wh.append(
            "person_overrides",
            ("old_person_id", "new_person_id"),
            [(old, self.override[old]) for old in sorted(self._dirty_overrides)],
        )
        self.clear_pending()

    def clear_pending(self) -> None:
        for dirty in (
            self._dirty_persons, self._new_persons, self._gone_persons, self._dirty_ids, self._new_ids,
            self._dirty_overrides,
        ):  # fmt: skip
            dirty.clear()


def _delete(wh: Warehouse, table: str, column: str, keys: Iterable[Any]) -> None:
    keys = list(keys)
    if keys:
        wh.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT unnest($keys))", {"keys": keys})  # noqa: S608  # names are ours


# --- the accounts mirror ----------------------------------------------------------------------


def sync_accounts(session: Session, wh: Warehouse) -> int:
    """Make the warehouse ``accounts`` table equal the customers accounts (plan, ARR, band, segment, region,
    custom attributes). Returns the number of accounts."""
    now = _now()
    rows = []
    for row in session.execute(customers.account_mirror_facts()):
        props = dict(row.attributes or {})
        if row.domain:
            props.setdefault("domain", row.domain)
        rows.append((
            row.account_id, row.external_id, row.name, row.plan, float(row.arr or 0), arr_band(row.arr), row.segment,
            row.region, json.dumps(props, default=str), now,
        ))  # fmt: skip
    wh.execute("DELETE FROM accounts")
    wh.append("accounts", ACCOUNT_COLUMNS, rows)
    return len(rows)
