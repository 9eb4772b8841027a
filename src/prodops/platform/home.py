"""The start page: where each part of ProdOps lives."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodops.platform import registry
from prodops.platform.deps import VIEWER
from prodops.platform.web import render

router = registry.router(APIRouter(include_in_schema=False))


@router.get("/", response_class=HTMLResponse, dependencies=[VIEWER])
def home(request: Request) -> Response:
    return render(request, "home.html", {})
