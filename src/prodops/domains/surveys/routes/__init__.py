"""Survey pages, the respondents' pages and snippet, and the JSON API under /api/v1/surveys.

Each module defines its own router and registers it with ``registry.router``; import it here.
"""

from prodops.platform import registry

registry.nav("Surveys", "/surveys", section="Surveys", order=10)
registry.nav("Follow-ups", "/surveys/follow-ups", section="Surveys", order=20)
registry.nav("Survey rules", "/admin/surveys/rules", section="Administration", order=50, min_role="admin")

from prodops.domains.surveys.routes import (  # noqa: E402  # after the nav entries, so they list first
    act,  # noqa: F401  # follow-ups, rules, the account panel, importing responses
    api,  # noqa: F401  # the JSON API
    pages,  # noqa: F401  # list, results, responses, themes, waves, builder
    public,  # noqa: F401  # what respondents see: personal and public links, the in-app snippet
)
