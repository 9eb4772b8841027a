"""Customers pages (accounts, people, segments, imports) and the JSON API under /api/v1/customers."""

from prodops.domains.customers.routes import accounts, api, imports, people, segments
from prodops.platform import registry

registry.nav("Accounts", "/customers/accounts", section="Customers", order=10)
registry.nav("People", "/customers/people", section="Customers", order=20)
registry.nav("Segments", "/customers/segments", section="Customers", order=30)

__all__ = ["accounts", "api", "imports", "people", "segments"]
