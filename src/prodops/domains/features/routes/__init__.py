"""Features pages (catalogue, detail, form, merge), the lifecycle admin page and the JSON API under /api/v1/features."""

from prodops.domains.features.routes import admin, api, pages
from prodops.platform import registry

registry.nav("Features", "/features", section="Product", order=10)
registry.nav("Feature statuses", "/admin/features/statuses", section="Administration", order=30, min_role="admin")

__all__ = ["admin", "api", "pages"]
