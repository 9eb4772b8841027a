"""The event ingestion endpoints: the Segment HTTP API (``/v1/batch``, ``/v1/track``, ...) and PostHog capture
(``/batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``), so that segment-analytics-python, rudder-sdk-python, posthog and
posthog-js send here unchanged once their host points at this server.

They authenticate with a source's write key (see :mod:`..service.sources`), not a user: access level PUBLIC_API.
Success is always HTTP 200 (the PostHog and RudderStack clients treat anything else, 202 included, as failure), sent
only after the events are fsync'ed in the write-ahead log. Errors are ``{"code": ..., "message": ...}``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from prodops.domains.analytics.service.ingest import SEGMENT_TYPES, IngestError, Protocol
from prodops.domains.analytics.service.pipeline import get_pipeline, prepare, stop_pipeline, wal_directory
from prodops.domains.analytics.service.wal import LogClosed, segments
from prodops.platform import registry
from prodops.platform.config import get_settings
from prodops.platform.deps import PUBLIC_API

log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """At start-up, replay what a crash left in the write-ahead log and bring the warehouse copy of the customers
    up to date; at shutdown, store what is buffered. (The test suite starts an app per test: there the pipeline
    starts on first use instead, unless a log is waiting.)"""
    if segments(wal_directory()) or get_settings().environment != "test":
        try:
            get_pipeline()
        except Exception:  # e.g. a second server process: DuckDB lets one process write its file
            log.exception("the analytics pipeline did not start; event ingestion will retry on the first request")
    yield
    stop_pipeline()


router = registry.router(APIRouter(tags=["event ingestion"], dependencies=[PUBLIC_API], lifespan=_lifespan))
# Trackers send hundreds of requests a second; route them before the hundreds of page routes (matching walks the
# routes in order). Their paths are the trackers' own and collide with no page.
_routers = registry.registry.routers
_routers.insert(0, _routers.pop(next(i for i, r in enumerate(_routers) if r is router)))

_SEGMENT_OK = b'{"success":true}'
_POSTHOG_OK = b'{"status":1}'


def _header_key(request: Request) -> str | None:
    """A write key sent as the Basic-auth user name or as a Bearer token."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, credential = header.partition(" ")
    scheme, credential = scheme.lower(), credential.strip()
    if scheme == "bearer":
        return credential or None
    if scheme == "basic":
        try:
            user = base64.b64decode(credential, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise IngestError(401, "invalid_authorization", "the Basic credentials are not valid base64") from None
        return user or None
    raise IngestError(401, "invalid_authorization", "send the write key as Basic auth or a Bearer token")


# Write keys sit in web pages and no cookie is read here, so any page may send (analytics.js, posthog-js).
_CORS = {"Access-Control-Allow-Origin": "*"}
_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, Authorization",
    "Access-Control-Max-Age": "86400",
}


def _posthog_form(raw: bytes) -> bytes:
    """posthog-js's form post: ``data=<base64 of the JSON (or of its gzip)>``."""
    fields = parse_qs(raw.decode("latin-1"))
    data = (fields.get("data") or [""])[0].strip()
    if not data:
        raise IngestError(400, "invalid_body", "the form has no data field")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_" if "-" in data or "_" in data else None)
    except (binascii.Error, ValueError):
        raise IngestError(400, "invalid_body", "the data field is not base64") from None


async def _ingest(request: Request, protocol: Protocol, call: str, ok: bytes) -> Response:
    try:
        raw = await request.body()
        if protocol == "posthog" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            raw = _posthog_form(raw)
        batch, text = prepare(
            protocol,
            call,
            raw,
            content_encoding=request.headers.get("content-encoding"),
            compression=request.query_params.get("compression"),
            header_key=_header_key(request) if protocol == "segment" else None,
        )
        await get_pipeline().accept(protocol, call, batch, text)
    except IngestError as exc:
        headers = {**_CORS, "WWW-Authenticate": 'Basic realm="write key"'} if exc.status == 401 else _CORS
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
    except (OSError, LogClosed):  # a full disk, or shutting down: nothing was accepted, the client retries
        log.exception("the analytics write-ahead log refused a request")
        body = {"code": "unavailable", "message": "events cannot be stored right now; retry later"}
        return JSONResponse(
            {**body, "detail": body["message"]}, status_code=503, headers={**_CORS, "Retry-After": "30"}
        )
    return Response(ok, media_type="application/json", headers=_CORS)


async def _preflight() -> Response:
    return Response(status_code=204, headers=_PREFLIGHT)


# --- Segment HTTP API -------------------------------------------------------------------------


@router.post("/v1/batch", summary="Segment HTTP API: a batch of messages (track, identify, group, page, screen, alias)")
async def segment_batch(request: Request) -> Response:
    return await _ingest(request, "segment", "batch", _SEGMENT_OK)


def _segment_call(call: str) -> None:
    async def endpoint(request: Request) -> Response:
        return await _ingest(request, "segment", call, _SEGMENT_OK)

    endpoint.__name__ = f"segment_{call}"
    router.add_api_route(f"/v1/{call}", endpoint, methods=["POST"], summary=f"Segment HTTP API: one {call} message")


for _call in SEGMENT_TYPES:
    _segment_call(_call)
for _call in ("batch", *SEGMENT_TYPES):
    router.add_api_route(f"/v1/{_call}", _preflight, methods=["OPTIONS"], include_in_schema=False)


# --- PostHog capture -------------------------------------------------------------------------


def _posthog_route(path: str, summary: str) -> None:
    async def endpoint(request: Request) -> Response:
        return await _ingest(request, "posthog", "capture", _POSTHOG_OK)

    endpoint.__name__ = "posthog_" + (path.strip("/").replace("/", "_") or "root")
    router.add_api_route(path, endpoint, methods=["POST"], summary=summary)
    # Some clients drop the trailing slash; answer there too rather than redirect a POST.
    router.add_api_route(path.rstrip("/"), endpoint, methods=["POST"], include_in_schema=False)
    for variant in (path, path.rstrip("/")):
        router.add_api_route(variant, _preflight, methods=["OPTIONS"], include_in_schema=False)


_posthog_route("/batch/", "PostHog capture: a batch of events (posthog-python)")
_posthog_route("/capture/", "PostHog capture: one event or a batch")
_posthog_route("/e/", "PostHog capture: one event or a list (posthog-js)")
_posthog_route("/i/v0/e/", "PostHog capture: one event or a list (posthog-js, newer path)")


# posthog-js asks for feature flags and settings at start-up; this server has none to give, and says so with a 200
# so the client carries on capturing (server-side clients never ask).
_NO_FLAGS = {
    "featureFlags": {},
    "featureFlagPayloads": {},
    "flags": {},
    "errorsWhileComputingFlags": False,
    "sessionRecording": False,
    "supportedCompression": ["gzip", "gzip-js"],
    "autocapture_opt_out": True,
    "capturePerformance": False,
}


async def posthog_no_flags() -> JSONResponse:
    return JSONResponse(_NO_FLAGS, headers=_CORS)


for _path, _summary in (
    ("/decide/", "PostHog settings and feature flags (none)"),
    ("/flags/", "PostHog feature flags (none)"),
):
    for _method in ("GET", "POST"):
        router.add_api_route(
            _path,
            posthog_no_flags,
            methods=[_method],
            summary=_summary,
            operation_id=f"posthog_{_path.strip('/')}_{_method.lower()}",
        )
    router.add_api_route(_path, _preflight, methods=["OPTIONS"], include_in_schema=False)
