"""Bulk upserts: match rows to stored accounts or people, check them all, then write all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers.models import Account, Person
from prodops.domains.customers.schemas import (
    AccountRow,
    PersonRow,
    RowProblem,
    RowsRejected,
    UpsertResult,
)
from prodops.domains.customers.service._shared import (
    _CHUNK,
    IMPORTED,
    _account_snapshot,
    _email_domain,
    _person_snapshot,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.identity.models import User

# --- bulk upserts (imports) -----------------------------------------------------------------


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted({v for v in values if v is not None}, key=str)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _fetch(session: Session, model: Any, column: Any, values: Iterable[Any]) -> list[Any]:
    found: list[Any] = []
    for chunk in _chunks(values):
        found.extend(session.scalars(select(model).where(column.in_(chunk))))
    return found


def _fetch_ids(session: Session, column: Any, values: Iterable[Any]) -> dict[Any, int]:
    """``{value: account id}`` for the accounts whose ``column`` is one of ``values``."""
    found: dict[Any, int] = {}
    for chunk in _chunks(values):
        found.update(session.execute(select(column, Account.id).where(column.in_(chunk))).all())
    return found


def _parse_rows(
    rows: Sequence[Any], schema: type[AccountRow] | type[PersonRow], numbers: Sequence[int]
) -> tuple[list[Any], list[RowProblem]]:
    parsed: list[Any] = []
    problems: list[RowProblem] = []
    for number, row in zip(numbers, rows, strict=True):
        if isinstance(row, schema):
            parsed.append(row)
            continue
        try:
            parsed.append(schema.model_validate(row))
        except ValidationError as exc:
            parsed.append(None)
            for err in exc.errors():
                loc = [str(p) for p in err["loc"]]
                problems.append(RowProblem(number, ".".join(loc) or None, err["msg"]))
    return parsed, problems


def _merged_attributes(current: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(current)
    for key, value in (given or {}).items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


@dataclass
class Plan:
    """What a bulk upsert will do; nothing is written until it is applied."""

    creates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[int, Any, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    def result(self) -> UpsertResult:
        return UpsertResult(created=len(self.creates), updated=len(self.updates), unchanged=self.unchanged)


class _Claims:
    """Keys (external id, domain, e-mail...) already taken by an earlier row of the same file."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, Any], int] = {}

    def clash(self, keys: Iterable[tuple[str, Any]]) -> tuple[str, Any, int] | None:
        for key in keys:
            if key[1] is not None and key in self.rows:
                return key[0], key[1], self.rows[key]
        return None

    def take(self, keys: Iterable[tuple[str, Any]], number: int) -> None:
        for key in keys:
            if key[1] is not None:
                self.rows[key] = number


class _RowError(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class _AccountIndex:
    """The stored accounts and users an accounts import refers to, fetched in a few chunked queries."""

    by_ext: dict[str, Account]
    by_domain: dict[str, Account]
    by_name: dict[str, list[Account]]
    owners: dict[str, User]
    owners_by_id: dict[int, User]

    @classmethod
    def load(cls, session: Session, rows: list[AccountRow]) -> _AccountIndex:
        by_name: dict[str, list[Account]] = {}
        names = {r.name for r in rows if r.external_id is None and r.domain is None and r.name}
        for a in _fetch(session, Account, Account.name, names):
            by_name.setdefault(a.name, []).append(a)
        by_ext = {
            a.external_id: a for a in _fetch(session, Account, Account.external_id, (r.external_id for r in rows))
        }
        # Accounts found by external id already tell their domains: fetch only the domains still unknown.
        by_domain = {a.domain: a for a in by_ext.values() if a.domain}
        missing = {r.domain for r in rows if r.domain and r.domain not in by_domain}
        by_domain.update({a.domain: a for a in _fetch(session, Account, Account.domain, missing)})
        return cls(
            by_ext=by_ext,
            by_domain=by_domain,
            by_name=by_name,
            owners={u.email: u for u in _fetch(session, User, User.email, (r.owner_email for r in rows))},
            owners_by_id={u.id: u for u in _fetch(session, User, User.id, (r.owner_id for r in rows))},
        )


def _match_account(session: Session, index: _AccountIndex, row: AccountRow) -> Account | None:
    """The stored account a row refers to (external id, else domain, else exact name for rows with neither)."""
    target = index.by_ext.get(row.external_id) if row.external_id is not None else None
    if target is None and row.domain is not None:
        candidate = index.by_domain.get(row.domain)
        if (
            candidate is not None
            and candidate.external_id
            and row.external_id
            and candidate.external_id != row.external_id
        ):
            raise _RowError(
                "domain",
                f"{row.domain} belongs to account {candidate.name!r}, whose external id is {candidate.external_id!r}, not {row.external_id!r}",
            )
        target = candidate
    if target is None and row.external_id is None and row.domain is None and row.name:
        named = index.by_name.get(row.name, [])
        if len(named) > 1:
            raise _RowError(
                "name", f"{len(named)} accounts are named {row.name!r}; add a domain or external id to say which"
            )
        target = named[0] if named else None
    if target is not None and row.domain is not None and row.domain != target.domain:
        other = index.by_domain.get(row.domain) or session.scalar(select(Account).where(Account.domain == row.domain))
        if other is not None and other.id != target.id:
            raise _RowError("domain", f"{row.domain} already belongs to account {other.name!r}")
    return target


def _claim(claims: _Claims, keys: list[tuple[str, Any]], number: int, noun: str) -> None:
    clash = claims.clash(keys)
    if clash:
        what, value, earlier = clash
        raise _RowError(
            None,
            f"row {earlier} already imports the same {noun}"
            if what == "id"
            else f"the {what} {value!r} also appears on row {earlier}",
        )
    claims.take(keys, number)


def _resolve_owner(index: _AccountIndex, given: dict[str, Any], target: Account | None) -> None:
    """Turn ``owner_email`` (or ``owner_id``) into a checked ``owner_id`` in ``given``."""
    if "owner_id" not in given and "owner_email" not in given:
        return
    owner_id = given.pop("owner_id", None)
    email = given.pop("owner_email", None)
    user = (
        index.owners.get(email)
        if email is not None
        else index.owners_by_id.get(owner_id)
        if owner_id is not None
        else None
    )
    if email is not None and user is None:
        raise _RowError("owner_email", f"there is no user with e-mail {email!r}")
    if owner_id is not None and user is None:
        raise _RowError("owner_id", f"there is no user {owner_id}")
    if user is not None and not user.is_active and (target is None or target.owner_id != user.id):
        raise _RowError("owner_email" if email else "owner_id", f"{user.email} is deactivated and cannot own accounts")
    given["owner_id"] = user.id if user is not None else None


def _plan_change(
    plan: Plan,
    number: int,
    target: Any,
    given: dict[str, Any],
    *,
    attributes: dict[str, Any] | None,
    defaults: dict[str, Any],
) -> None:
    if target is None:
        plan.creates.append((number, {**defaults, **given, "attributes": _merged_attributes({}, attributes)}))
        return
    values = dict(given)
    if attributes is not None:
        values["attributes"] = _merged_attributes(target.attributes or {}, attributes)
    if all(getattr(target, k) == v for k, v in values.items()):
        plan.unchanged += 1
    else:
        plan.updates.append((number, target, values))


def plan_accounts(session: Session, rows: Sequence[Any], numbers: Sequence[int]) -> Plan:
    plan = Plan()
    parsed, plan.problems = _parse_rows(rows, AccountRow, numbers)
    index = _AccountIndex.load(session, [r for r in parsed if r is not None])
    claims = _Claims()
    for number, row in zip(numbers, parsed, strict=True):
        if row is None:
            continue
        try:
            target = _match_account(session, index, row)
            keys = [("id", target.id if target else None), ("external id", row.external_id), ("domain", row.domain)]
            if row.external_id is None and row.domain is None and row.name:
                keys.append(("name", row.name.lower()))
            _claim(claims, keys, number, "account")
            given = row.model_dump(exclude_unset=True)
            _resolve_owner(index, given, target)
            if target is None and not row.name:
                raise _RowError("name", "a new account needs a name")
            attributes = given.pop("attributes", None)
            _plan_change(
                plan, number, target, given, attributes=attributes, defaults={"arr": 0.0, "lifecycle_stage": "active"}
            )
        except _RowError as exc:
            plan.problems.append(RowProblem(number, exc.field, exc.message))
    return plan


def apply_plan(session: Session, actor: Actor, plan: Plan, model: type[Account] | type[Person]) -> UpsertResult:
    """Write a checked plan (inside the caller's transaction): rows, one audit record per changed row, and ONE
    ``customers.import.completed`` event listing the created and updated ids (not one event per row)."""
    is_account = model is Account
    entity_type = "account" if is_account else "person"
    snapshot: Callable[[Any], dict[str, Any]] = _account_snapshot if is_account else _person_snapshot
    new: list[Any] = [model(**values) for _, values in plan.creates]
    session.add_all(new)
    for _, target, values in plan.updates:
        before = snapshot(target)
        for key, value in values.items():
            if getattr(target, key) != value:
                setattr(target, key, value)
        diff = audit.diff(before, snapshot(target))
        label = target.name if is_account else target.email
        audit.record(
            session,
            actor,
            entity_type=entity_type,
            entity_id=target.id,
            action="update",
            changes=diff,
            entity_label=label,
        )
    session.flush()
    for obj in new:
        after = snapshot(obj)
        label = obj.name if is_account else obj.email
        audit.record(
            session,
            actor,
            entity_type=entity_type,
            entity_id=obj.id,
            action="create",
            changes=audit.diff({}, after),
            entity_label=label,
        )
    result = plan.result()
    if plan.creates or plan.updates:
        events.emit(session, IMPORTED, {
            "entity": "accounts" if is_account else "people", **result.as_dict(),
            "created_ids": [obj.id for obj in new], "updated_ids": [target.id for _, target, _ in plan.updates],
        })  # fmt: skip
    return result


def upsert_accounts(
    session: Session,
    actor: Actor,
    rows: Sequence[AccountRow | Mapping[str, Any]],
    *,
    dry_run: bool = False,
    row_numbers: Sequence[int] | None = None,
) -> UpsertResult:
    """Create or update accounts, matched by external id, else domain, else (for rows with neither) exact name.

    All rows are checked first; any problem raises `RowsRejected` listing every bad row and nothing is
    written. Rows equal to what is stored change nothing and leave no audit record, so re-importing
    the same file is a no-op. Only the fields a row sets are changed; attributes are merged (a null removes one).
    ``row_numbers`` labels problems (default: 1, 2, 3...).
    """
    numbers = list(row_numbers) if row_numbers is not None else list(range(1, len(rows) + 1))
    with nullcontext() if dry_run else transaction(session):
        plan = plan_accounts(session, rows, numbers)
        if plan.problems:
            raise RowsRejected(plan.problems)
        if not dry_run:
            apply_plan(session, actor, plan, Account)
    if dry_run and session.in_transaction():
        session.rollback()
    return plan.result()


@dataclass
class _PersonIndex:
    by_ext: dict[str, Person]
    by_email: dict[str, Person]
    accounts_by_ext: dict[str, int]
    accounts_by_domain: dict[str, int]

    @classmethod
    def load(cls, session: Session, rows: list[PersonRow]) -> _PersonIndex:
        domains = {r.account_domain for r in rows} | {_email_domain(r.email) for r in rows if r.email}
        return cls(
            by_ext={
                p.external_id: p for p in _fetch(session, Person, Person.external_id, (r.external_id for r in rows))
            },
            by_email={p.email: p for p in _fetch(session, Person, Person.email, (r.email for r in rows))},
            accounts_by_ext=_fetch_ids(session, Account.external_id, (r.account_external_id for r in rows)),
            accounts_by_domain=_fetch_ids(session, Account.domain, domains),
        )


def _match_person(session: Session, index: _PersonIndex, row: PersonRow) -> Person | None:
    target = index.by_ext.get(row.external_id) if row.external_id is not None else None
    if target is None and row.email is not None:
        candidate = index.by_email.get(row.email)
        if (
            candidate is not None
            and candidate.external_id
            and row.external_id
            and candidate.external_id != row.external_id
        ):
            raise _RowError(
                "email",
                f"{row.email} belongs to a person whose external id is {candidate.external_id!r}, not {row.external_id!r}",
            )
        target = candidate
    if target is not None and row.email is not None and row.email != target.email:
        other = index.by_email.get(row.email) or session.scalar(select(Person).where(Person.email == row.email))
        if other is not None and other.id != target.id:
            raise _RowError("email", f"{row.email} is already the e-mail of another person")
    return target


def _resolve_account(
    session: Session, index: _PersonIndex, given: dict[str, Any], row: PersonRow, target: Person | None
) -> None:
    """Turn ``account_external_id`` / ``account_domain`` into ``account_id``; new people default to their e-mail's domain."""
    account_ext = given.pop("account_external_id", None)
    account_domain = given.pop("account_domain", None)
    if account_ext is not None:
        if account_ext not in index.accounts_by_ext:
            raise _RowError("account_external_id", f"there is no account with external id {account_ext!r}")
        given["account_id"] = index.accounts_by_ext[account_ext]
    elif account_domain is not None:
        if account_domain not in index.accounts_by_domain:
            raise _RowError("account_domain", f"there is no account with domain {account_domain!r}")
        given["account_id"] = index.accounts_by_domain[account_domain]
    elif given.get("account_id") is not None and session.get(Account, given["account_id"]) is None:
        raise _RowError("account_id", f"there is no account {given['account_id']}")
    if target is None and "account_id" not in given and row.email:
        given["account_id"] = index.accounts_by_domain.get(_email_domain(row.email))


def plan_people(session: Session, rows: Sequence[Any], numbers: Sequence[int]) -> Plan:
    plan = Plan()
    parsed, plan.problems = _parse_rows(rows, PersonRow, numbers)
    index = _PersonIndex.load(session, [r for r in parsed if r is not None])
    claims = _Claims()
    for number, row in zip(numbers, parsed, strict=True):
        if row is None:
            continue
        try:
            target = _match_person(session, index, row)
            _claim(
                claims,
                [("id", target.id if target else None), ("external id", row.external_id), ("e-mail", row.email)],
                number,
                "person",
            )
            if target is None and not row.email:
                raise _RowError("email", "a new person needs an e-mail address")
            given = row.model_dump(exclude_unset=True)
            _resolve_account(session, index, given, row, target)
            attributes = given.pop("attributes", None)
            _plan_change(plan, number, target, given, attributes=attributes, defaults={"name": "", "title": ""})
        except _RowError as exc:
            plan.problems.append(RowProblem(number, exc.field, exc.message))
    return plan


def upsert_people(
    session: Session,
    actor: Actor,
    rows: Sequence[PersonRow | Mapping[str, Any]],
    *,
    dry_run: bool = False,
    row_numbers: Sequence[int] | None = None,
) -> UpsertResult:
    """Create or update people, matched by external id, else e-mail; linked to an account by
    ``account_external_id`` or ``account_domain`` (new people without either join the account of their
    e-mail domain). Same all-or-nothing and no-op-when-equal rules as :func:`upsert_accounts`."""
    numbers = list(row_numbers) if row_numbers is not None else list(range(1, len(rows) + 1))
    with nullcontext() if dry_run else transaction(session):
        plan = plan_people(session, rows, numbers)
        if plan.problems:
            raise RowsRejected(plan.problems)
        if not dry_run:
            apply_plan(session, actor, plan, Person)
    if dry_run and session.in_transaction():
        session.rollback()
    return plan.result()
