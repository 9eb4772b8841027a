"""The web application: ``create_app`` assembles the platform and every installed domain."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodops.platform.config import get_settings
from prodops.platform.db import get_engine
from prodops.platform.deps import ACCESS_CALLS, NotAuthenticated
from prodops.platform.errors import ServiceError
from prodops.platform.registry import load_domains
from prodops.platform.web import STATIC_DIR, render
from prodops.platform.web.charts import vega_embed_bundle

log = logging.getLogger(__name__)

TITLES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Sign in required", "Sign in to see this page."),
    403: ("Not allowed", "You do not have permission to see this page. Ask an administrator if you need access."),
    404: ("Not found", "There is nothing here. It may have been deleted or the link may be wrong."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    413: ("Too large", "The upload or request body is larger than this server accepts."),
    500: ("Something went wrong", "The error has been logged. Try again, and tell an administrator if it persists."),
}


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path in {"/healthz", "/readyz"}:
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: Request, status: int, message: str | None = None, detail: Any = None) -> Response:
    title, default = TITLES.get(status, ("Error", "The request failed."))
    if _wants_json(request):
        return JSONResponse({"detail": detail if detail is not None else (message or default)}, status_code=status)
    return render(
        request,
        "errors/error.html",
        {"status_code": status, "title": title, "message": message or default},
        status_code=status,
    )


class BodyLimitMiddleware:
    """Refuse bodies larger than ``max_body_bytes`` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._reject(send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = b'{"detail":"Request body too large"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _access_of(route: APIRoute) -> list[str]:
    found: list[str] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call in ACCESS_CALLS:
            found.append(ACCESS_CALLS[dep.call])
        stack.extend(dep.dependencies)
    return sorted(set(found))


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every API route, looking inside included routers (FastAPI keeps them as lazy wrappers)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (inner := getattr(route, "original_router", None)) is not None:
            found.extend(api_routes(list(inner.routes)))
    return found


def route_access(app: FastAPI) -> dict[tuple[str, str], str]:
    """Who may call each route, as ``{(method, path): level}``; raises if a route declares none or several."""
    table: dict[tuple[str, str], str] = {}
    problems = []
    for route in api_routes(app.routes):
        levels = _access_of(route)
        methods = sorted(route.methods or ())
        if len(levels) != 1:
            problems.append(f"{methods} {route.path}: {levels or 'no access declaration'}")
            continue
        for method in methods:
            table[(method, route.path)] = levels[0]
    if problems:
        raise RuntimeError("every route must declare exactly one access level:\n" + "\n".join(problems))
    return table


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    consumer = None
    if settings.embedded_worker and not settings.jobs_immediate:
        import prodops.worker  # registers periodic schedules
        from prodops.platform.jobs import EmbeddedConsumer

        _ = prodops.worker
        consumer = EmbeddedConsumer(settings.worker_threads)
        consumer.start()
    try:
        yield
    finally:
        if consumer is not None:
            consumer.stop()


def create_app() -> FastAPI:
    settings = get_settings()
    settings.ensure_data_dir()
    reg = load_domains()
    app = FastAPI(
        title="ProdOps API",
        version="1",
        description="Product operations platform. Authenticate with `Authorization: Bearer <personal API token>`.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="prodops_session",
        max_age=settings.session_max_age_days * 86400,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if not _wants_json(request) and request.method == "GET":
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={nxt}", status_code=303)
        response = error_response(request, 401, exc.message)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        detail = exc.as_detail() if exc.status_code in (400, 409, 422) else exc.message
        return error_response(request, exc.status_code, exc.message, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = error_response(
            request, exc.status_code, None if exc.status_code == 404 else str(exc.detail), exc.detail
        )
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        lines = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in errors)
        return error_response(request, 422, lines or "Invalid input.")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500)

    from prodops.platform.deps import PUBLIC_API

    @app.get("/healthz", dependencies=[PUBLIC_API], tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", dependencies=[PUBLIC_API], tags=["ops"], summary="Readiness: the database answers")
    def readyz() -> Response:
        try:
            with get_engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # report, never crash the probe
            return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/static/vendor/vega-embed.js", dependencies=[PUBLIC_API], include_in_schema=False)
    def vega_embed() -> Response:
        return Response(
            vega_embed_bundle(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    for router in reg.routers:
        app.include_router(router)
    # Routes are registered before the static mount is consulted; move the mount last.
    app.router.routes.sort(key=lambda r: 1 if getattr(r, "name", "") == "static" else 0)
    route_access(app)
    return app
