"""CSV/XLSX imports of accounts and people through the platform's tabular engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.customers.models import Account, Person
from prodops.domains.customers.schemas import (
    ATTRIBUTE_KEY,
    AccountImport,
    Entity,
    PersonImport,
    UpsertResult,
)
from prodops.domains.customers.service.upserts import Plan, apply_plan, plan_accounts, plan_people
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.tabular import ColumnSpec, ImportReport, RowError, Table, guess_mapping, run_import

# --- file imports (CSV/XLSX through the platform's tabular engine) --------------------------

ACCOUNT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "external_id",
        "External ID",
        aliases=("crm id", "customer id", "salesforce id", "hubspot id"),
        help="Your CRM's id. Rows are matched on it first, then on the domain, then on the exact name.",
    ),
    ColumnSpec(
        "name",
        "Name",
        required=True,
        aliases=("company", "company name", "account", "account name", "organization", "organisation"),
    ),
    ColumnSpec(
        "domain",
        "Domain",
        aliases=("website", "web site", "url", "company domain"),
        help="e.g. acme.com; people at this domain join the account.",
    ),
    ColumnSpec("plan", "Plan", aliases=("tier", "subscription", "pricing plan")),
    ColumnSpec(
        "arr",
        "ARR",
        aliases=("annual recurring revenue", "arr usd", "annual revenue"),
        help="A number; $ and thousands separators are fine.",
    ),
    ColumnSpec("segment", "Segment", aliases=("customer segment", "market segment")),
    ColumnSpec("region", "Region", aliases=("geo", "territory", "market")),
    ColumnSpec(
        "lifecycle_stage",
        "Lifecycle stage",
        aliases=("stage", "lifecycle", "status"),
        help="trial, onboarding, active, expansion, at risk or churned.",
    ),
    ColumnSpec(
        "owner_email",
        "Owner e-mail",
        aliases=("owner", "account owner", "csm", "owner email address"),
        help="The e-mail of a ProdOps user.",
    ),
)
PERSON_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("email", "E-mail", required=True, aliases=("email address", "e-mail address", "mail", "work email")),
    ColumnSpec("name", "Name", aliases=("full name", "contact name", "contact")),
    ColumnSpec("title", "Title", aliases=("job title", "position")),
    ColumnSpec(
        "external_id",
        "External ID",
        aliases=("contact id", "crm id", "person id"),
        help="Rows are matched on it first, then on the e-mail.",
    ),
    ColumnSpec("account_external_id", "Account external ID", aliases=("company id", "account crm id")),
    ColumnSpec("account_domain", "Account domain", aliases=("company domain", "domain", "company website")),
)
# Columns our own exports add for reading, never imported back.
_EXPORT_ONLY = {"id", "people_count", "created_at", "updated_at", "account_name"}


def _attribute_columns(headers: Sequence[str], fixed: Sequence[ColumnSpec]) -> list[ColumnSpec]:
    """A custom-attribute field for every other column: ``attributes.<name>`` headers are matched automatically,
    the rest can be chosen in the mapping step."""
    taken = set(guess_mapping(headers, fixed).values())
    specs: dict[str, ColumnSpec] = {}
    for header in headers:
        if header in taken or header.strip().lower() in _EXPORT_ONLY:
            continue
        key = header.strip()
        prefixed = key.lower().startswith("attributes.")
        key = key[len("attributes.") :].strip() if prefixed else key
        if not ATTRIBUTE_KEY.match(key) or f"attributes.{key}" in specs:
            continue
        specs[f"attributes.{key}"] = ColumnSpec(
            f"attributes.{key}", f"{key} (custom attribute)", aliases=(header,) if prefixed else ()
        )
    return list(specs.values())


def account_columns(headers: Sequence[str] = ()) -> list[ColumnSpec]:
    """The fields an accounts file can fill: the fixed ones, plus a custom attribute per other column of the file."""
    return [*ACCOUNT_COLUMNS, *_attribute_columns(headers, ACCOUNT_COLUMNS)]


def person_columns(headers: Sequence[str] = ()) -> list[ColumnSpec]:
    return [*PERSON_COLUMNS, *_attribute_columns(headers, PERSON_COLUMNS)]


def _run_file_import(
    session: Session,
    actor: Actor,
    table: Table,
    mapping: Mapping[str, str | None],
    *,
    entity: Entity,
    dry_run: bool,
) -> ImportReport:
    columns = import_columns(entity, table.headers)
    model: type[AccountImport] | type[PersonImport] = AccountImport if entity == "accounts" else PersonImport
    clean = {k: v for k, v in mapping.items() if v}
    labels = {c.name: c.label for c in columns}
    plans: list[Plan] = []

    def checks(valid: list[tuple[int, Any]]) -> list[RowError]:
        # The database-aware checks (unknown owner, a domain that belongs to another account, the same account
        # twice in the file) come from planning the upsert, so the report lists them with the rest; the commit
        # then writes exactly this plan, in the same transaction.
        rows, numbers = [m.to_row() for _, m in valid], [n for n, _ in valid]
        plan = (plan_accounts if entity == "accounts" else plan_people)(session, rows, numbers)
        plans.append(plan)
        return [
            RowError(
                p.row, clean.get(p.field) if p.field else None, p.field,
                f"{labels.get(p.field or '', p.field or 'Row')}: {p.message}.",
            )
            for p in plan.problems
        ]  # fmt: skip

    def preview(valid: list[tuple[int, Any]]) -> tuple[int, int, int]:
        result = plans[-1].result() if plans else UpsertResult()
        return result.created, result.updated, result.unchanged

    def commit(valid: list[tuple[int, Any]]) -> tuple[int, int, int]:
        result = apply_plan(session, actor, plans[-1], Account if entity == "accounts" else Person)
        return result.created, result.updated, result.unchanged

    with nullcontext() if dry_run else transaction(session):
        report = run_import(table, clean, columns, model, commit, dry_run=dry_run, extra_checks=checks, preview=preview)
    if dry_run and session.in_transaction():
        session.rollback()  # a dry run leaves no snapshot open
    return report


def import_accounts(
    session: Session, actor: Actor, table: Table, mapping: Mapping[str, str | None], *, dry_run: bool
) -> ImportReport:
    """Import a file of accounts all or nothing: every problem of every row is reported, and only a clean file
    is written (one transaction, per-row audit records, nothing for rows that are already up to date)."""
    return _run_file_import(session, actor, table, mapping, entity="accounts", dry_run=dry_run)


def import_people(
    session: Session, actor: Actor, table: Table, mapping: Mapping[str, str | None], *, dry_run: bool
) -> ImportReport:
    """Import a file of people all or nothing (see :func:`import_accounts`)."""
    return _run_file_import(session, actor, table, mapping, entity="people", dry_run=dry_run)


def import_columns(entity: Entity, headers: Sequence[str] = ()) -> list[ColumnSpec]:
    return account_columns(headers) if entity == "accounts" else person_columns(headers)


def import_file(
    session: Session, actor: Actor, entity: Entity, table: Table, mapping: Mapping[str, str | None], *, dry_run: bool
) -> ImportReport:
    return (import_accounts if entity == "accounts" else import_people)(session, actor, table, mapping, dry_run=dry_run)
