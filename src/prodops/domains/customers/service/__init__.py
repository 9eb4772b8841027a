"""Customers use cases: the only place that writes accounts, people and segments.

Other domains call this module (never the models or queries):

- scope their records by a segment: :func:`segment_account_ids`, :func:`segment_person_ids`, or with ad-hoc
  conditions :func:`account_filter` / :func:`person_filter` / :func:`account_ids_matching`;
- show accounts and people: :func:`get_account`, :func:`accounts_by_id`, :func:`get_person`, :func:`people_by_id`,
  :func:`person_by_email`, :func:`list_segments`; join account facts (ARR, plan, segment, region) or people's
  accounts in grouped SQL: :func:`account_facts`, :func:`person_accounts`; mirror accounts and people elsewhere
  (the analytics warehouse): :func:`account_mirror_facts`, :func:`person_mirror_facts`;
- link an e-mail address to a person (created and attached to the account of its domain if new): :func:`ensure_person`,
  or many at once: :func:`ensure_people`; find accounts by web domain: :func:`account_ids_by_domain`.

Every write is audited (before → after) and emits a ``customers.*`` event after commit.
"""

from prodops.domains.customers.service._shared import (
    ACCOUNT_CREATED,
    ACCOUNT_DELETED,
    ACCOUNT_UPDATED,
    IMPORTED,
    PERSON_CREATED,
    PERSON_DELETED,
    PERSON_UPDATED,
    SEGMENT_CREATED,
    SEGMENT_DELETED,
    SEGMENT_UPDATED,
)
from prodops.domains.customers.service.accounts import (
    bulk_delete_accounts,
    bulk_update_accounts,
    create_account,
    delete_account,
    update_account,
)
from prodops.domains.customers.service.imports import (
    ACCOUNT_COLUMNS,
    PERSON_COLUMNS,
    account_columns,
    import_accounts,
    import_columns,
    import_file,
    import_people,
    person_columns,
)
from prodops.domains.customers.service.people import (
    account_ids_by_domain,
    create_person,
    delete_person,
    ensure_people,
    ensure_person,
    update_person,
)
from prodops.domains.customers.service.seeding import SeedResult, seed_customers
from prodops.domains.customers.service.segments import (
    account_facts,
    account_filter,
    account_ids_matching,
    account_mirror_facts,
    accounts_by_id,
    create_segment,
    delete_segment,
    get_account,
    get_person,
    list_segments,
    people_by_id,
    person_accounts,
    person_by_email,
    person_filter,
    person_mirror_facts,
    segment_account_ids,
    segment_detail,
    segment_person_ids,
    update_segment,
)
from prodops.domains.customers.service.upserts import upsert_accounts, upsert_people

__all__ = [
    "ACCOUNT_COLUMNS",
    "ACCOUNT_CREATED",
    "ACCOUNT_DELETED",
    "ACCOUNT_UPDATED",
    "IMPORTED",
    "PERSON_COLUMNS",
    "PERSON_CREATED",
    "PERSON_DELETED",
    "PERSON_UPDATED",
    "SEGMENT_CREATED",
    "SEGMENT_DELETED",
    "SEGMENT_UPDATED",
    "SeedResult",
    "account_columns",
    "account_facts",
    "account_filter",
    "account_ids_by_domain",
    "account_ids_matching",
    "account_mirror_facts",
    "accounts_by_id",
    "bulk_delete_accounts",
    "bulk_update_accounts",
    "create_account",
    "create_person",
    "create_segment",
    "delete_account",
    "delete_person",
    "delete_segment",
    "ensure_people",
    "ensure_person",
    "get_account",
    "get_person",
    "import_accounts",
    "import_columns",
    "import_file",
    "import_people",
    "list_segments",
    "people_by_id",
    "person_accounts",
    "person_by_email",
    "person_columns",
    "person_filter",
    "person_mirror_facts",
    "seed_customers",
    "segment_account_ids",
    "segment_detail",
    "segment_person_ids",
    "update_account",
    "update_person",
    "update_segment",
    "upsert_accounts",
    "upsert_people",
]
