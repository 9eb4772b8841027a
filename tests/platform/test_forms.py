"""Every form on every page posts the session's CSRF token (the test client would otherwise hide a gap)."""

from __future__ import annotations

from html.parser import HTMLParser

from prodops.web import route_access
from tests.conftest import Client


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "action": a.get("action"), "csrf": None})
        elif tag == "input" and a.get("name") == "csrf_token" and self.forms:
            self.forms[-1]["csrf"] = a.get("value")


def test_every_post_form_carries_the_csrf_token(app, admin_client: Client) -> None:  # type: ignore[no-untyped-def]
    pages = sorted(
        path
        for (method, path), level in route_access(app).items()
        if method == "GET"
        and "{" not in path
        and not path.startswith("/api/")
        and level in ("viewer", "member", "admin")
        and not path.endswith((".csv", ".xlsx", ".png", ".json"))
    )
    checked = 0
    for path in pages:
        r = admin_client.get(path)
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        parser = _Forms()
        parser.feed(r.text)
        for form in parser.forms:
            if form["method"] == "post":
                assert form["csrf"] == admin_client.csrf, (
                    f"a form on {path} posting to {form['action']} lacks the CSRF token"
                )
                checked += 1
    assert checked >= 3
