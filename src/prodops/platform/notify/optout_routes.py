"""The unsubscribe page behind every ``List-Unsubscribe`` link.

GET shows who and what the link unsubscribes, with a button (link scanners and previews fetch URLs, so a GET
never changes anything). POST unsubscribes: the button on that page, or a mail client's RFC 8058 one-click
request (``List-Unsubscribe=One-Click``, no cookies, no CSRF token). The signed token is the credential, so the
POST is a ``PUBLIC_API`` route.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodops.platform import registry
from prodops.platform.deps import PUBLIC, PUBLIC_API, SessionDep
from prodops.platform.notify import optout
from prodops.platform.web import render

router = registry.router(APIRouter(include_in_schema=False))


def _page(request: Request, token: str, *, done: bool = False, status_code: int = 200) -> Response:
    found = optout.read_token(token)
    context = {
        "token": token,
        "valid": found is not None,
        "email": found[0] if found else "",
        "topic": optout.describe(found[1]) if found else "",
        "done": done,
    }
    return render(request, "notify/unsubscribe.html", context, status_code=status_code if found else 400)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[PUBLIC])
def unsubscribe_page(request: Request, token: str) -> Response:
    return _page(request, token)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[PUBLIC_API])
def unsubscribe(request: Request, session: SessionDep, token: str) -> Response:
    found = optout.read_token(token)
    if found is None:
        return _page(request, token)
    optout.opt_out(session, *found)
    return _page(request, token, done=True)
