"""Capture channels over HTTP: a raw e-mail posted by automation (members' write tokens), and the Zendesk and
Intercom webhook receivers (public, authenticated by the vendor's HMAC signature). The parsing and mapping live in
``service/channels.py``; the README's "Feedback capture: e-mail and support tools" documents the payloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from prodops.domains.feedback.schemas import FeedbackOut
from prodops.domains.feedback.service import channels
from prodops.domains.feedback.service.channels import MAX_EMAIL_BYTES, WebhookResult
from prodops.platform import registry
from prodops.platform.deps import PUBLIC_API, MemberUser, SessionDep, SettingsDep
from prodops.platform.errors import ValidationFailed
from prodops.platform.identity.service import actor_for

router = registry.router(APIRouter(prefix="/api/v1/feedback", tags=["feedback capture"]))

RAW_TYPES = ("", "message/rfc822", "text/plain", "application/octet-stream")
#: Room for the multipart envelope around an uploaded message.
MULTIPART_OVERHEAD = 64 * 1024

_BINARY = {"schema": {"type": "string", "format": "binary"}}
EMAIL_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The raw RFC 822 message, at most {MAX_EMAIL_BYTES // (1024 * 1024)} MB.",
        "content": {
            "message/rfc822": _BINARY,
            "text/plain": _BINARY,
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"message": {"type": "string", "format": "binary"}},
                    "required": ["message"],
                }
            },
        },
    }
}
JSON_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}


def _too_long(request: Request, limit: int) -> bool:
    length = request.headers.get("content-length", "")
    return length.isdigit() and int(length) > limit


async def _read_raw(request: Request) -> bytes:
    if _too_long(request, MAX_EMAIL_BYTES):
        raise channels.MessageTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_EMAIL_BYTES:
            raise channels.MessageTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_upload(request: Request) -> bytes:
    if _too_long(request, MAX_EMAIL_BYTES + MULTIPART_OVERHEAD):
        raise channels.MessageTooLarge()
    async with request.form(max_files=1, max_fields=5, max_part_size=MAX_EMAIL_BYTES + 1) as form:
        value = form.get("message")
        if isinstance(value, UploadFile):
            data = await value.read(MAX_EMAIL_BYTES + 1)
        elif isinstance(value, str):
            data = value.encode("utf-8", errors="surrogateescape")
        else:
            raise ValidationFailed("message", "Upload the raw message in the form field 'message'.")
    if len(data) > MAX_EMAIL_BYTES:
        raise channels.MessageTooLarge()
    return data


async def _message(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _read_upload(request)
    if content_type in RAW_TYPES:
        return await _read_raw(request)
    raise channels.UnsupportedMediaType(content_type)


@router.post(
    "/email",
    response_model=FeedbackOut,
    status_code=201,
    summary="Capture a raw e-mail as feedback (201 created, 200 when the same Message-ID came before)",
    description=(
        "Send the raw RFC 822 message as the body (`Content-Type: message/rfc822` or `text/plain`) or as the "
        "multipart form field `message`. The sender (From, else Reply-To, else Sender) becomes the person — an "
        "existing one matched by e-mail, else created in the account of their e-mail domain; the subject is the "
        "title; the text is the text/plain part (else the HTML part as text) without quoted replies and signature; "
        "Date is when it was said; the Message-ID is the external id, so posting a message again updates its item. "
        "Attachments are listed in `meta.attachments` (names and sizes), not stored. Needs a member's write token."
    ),
    openapi_extra=EMAIL_BODY,
    responses={200: {"description": "Updated: this Message-ID was captured before."}, 413: {}, 415: {}, 422: {}},
)
async def post_email(request: Request, response: Response, session: SessionDep, user: MemberUser) -> FeedbackOut:
    raw = await _message(request)
    item, created = await run_in_threadpool(channels.ingest_email, session, actor_for(user), raw)
    response.status_code = 201 if created else 200
    return item


@router.post(
    "/webhooks/zendesk",
    dependencies=[PUBLIC_API],
    response_model=WebhookResult,
    summary="Zendesk webhook: capture a ticket (signed with the webhook's signing secret)",
    description=(
        "Authenticated by `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret, "
        "`X-Zendesk-Webhook-Signature-Timestamp` + raw body)); a timestamp more than 5 minutes from now is refused. "
        "Answers 404 while `PRODOPS_ZENDESK_WEBHOOK_SECRET` is unset. Accepts the body documented in the README "
        '(`{"ticket": {...}}`) or a Zendesk ticket event (`type`, `detail`); other events are acknowledged with '
        '`{"ignored": type}`. The item\'s external id is `zendesk:<ticket id>`: re-delivery updates it.'
    ),
    openapi_extra=JSON_BODY,
    responses={401: {}, 404: {}, 422: {}},
)
async def zendesk_webhook(request: Request, session: SessionDep, settings: SettingsDep) -> WebhookResult:
    secret = settings.zendesk_webhook_secret.get_secret_value()
    if not secret:
        raise channels.ChannelOff("Zendesk webhooks are not enabled on this instance.")
    body = await request.body()
    channels.verify_zendesk(
        secret,
        body,
        request.headers.get("x-zendesk-webhook-signature"),
        request.headers.get("x-zendesk-webhook-signature-timestamp"),
    )
    payload = channels.parse_json(body)
    return await run_in_threadpool(channels.ingest_zendesk, session, payload)


@router.post(
    "/webhooks/intercom",
    dependencies=[PUBLIC_API],
    response_model=WebhookResult,
    summary="Intercom webhook: capture customer messages of conversations (signed with the app's client secret)",
    description=(
        "Authenticated by `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body with the client secret>`. Answers "
        "404 while `PRODOPS_INTERCOM_CLIENT_SECRET` is unset. Topics `conversation.user.created` and "
        "`conversation.user.replied` capture one item per customer message (`intercom:<conversation id>` for the "
        "opening message, `intercom:<conversation id>:<part id>` for each reply); `ping` and every other topic "
        'are answered 200 with `{"ignored": topic}`.'
    ),
    openapi_extra=JSON_BODY,
    responses={401: {}, 404: {}, 422: {}},
)
async def intercom_webhook(request: Request, session: SessionDep, settings: SettingsDep) -> WebhookResult:
    secret = settings.intercom_client_secret.get_secret_value()
    if not secret:
        raise channels.ChannelOff("Intercom webhooks are not enabled on this instance.")
    body = await request.body()
    channels.verify_intercom(secret, body, request.headers.get("x-hub-signature"))
    payload = channels.parse_json(body)
    return await run_in_threadpool(channels.ingest_intercom, session, payload)
