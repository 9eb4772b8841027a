"""Reading what trackers send: request bodies of the Segment HTTP API and of PostHog capture, turned into
:data:`Message` tuples (one per event) that the pipeline stores.

This is the hot path of ingestion, so it avoids per-event validation models: bodies are parsed with the standard
library's C JSON scanner, once, and the sizes of a batch's events are measured during that same parse. Every problem
is a :class:`IngestError` (HTTP 400 with ``{"code": ..., "message": ...}``, the shape rudder-sdk-python and
segment-analytics-python read), raised before anything is stored: a request is accepted whole or not at all.

Timestamps are naive UTC. Clock skew: when the client says when it sent the request (``sentAt``/``sent_at``), an
event's timestamp is moved by ``received_at - sentAt``, so a phone whose clock is an hour fast still lands on the
right hour. PostHog's per-event ``offset`` (milliseconds before sending) is honoured the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any, Literal

MAX_EVENT_BYTES = 32 * 1024
"""Largest single event (Segment's limit)."""
MAX_BATCH_BYTES = 500 * 1024
"""Largest request body after decompression (Segment's batch limit)."""

SEGMENT_TYPES = ("track", "identify", "group", "page", "screen", "alias")

# (uuid, event, distinct_id, timestamp, properties, identity operation or None, group key or None)
Message = tuple[str, str, str, dt.datetime, dict[str, Any], tuple[Any, ...] | None, str | None]
Protocol = Literal["segment", "posthog"]


class IngestError(Exception):
    """A refused request: ``status`` (400, 401, 413...), a machine ``code`` and a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "detail": self.message}


def _bad(code: str, message: str) -> IngestError:
    return IngestError(400, code, message)


# --- bodies ---------------------------------------------------------------------------------


def decode_body(raw: bytes, content_encoding: str | None, compression: str | None = None) -> str:
    """The request body as text: gunzipped when the client says so (``Content-Encoding: gzip`` or PostHog's
    ``?compression=gzip-js``), never inflated past :data:`MAX_BATCH_BYTES`."""
    encoding = (content_encoding or "").strip().lower()
    gzipped = encoding == "gzip" or (compression or "").lower() in {"gzip", "gzip-js"}
    if encoding and encoding not in {"gzip", "identity"}:
        raise _bad("unsupported_encoding", f"Content-Encoding {encoding!r} is not supported: send gzip or nothing")
    if gzipped or raw[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
        try:
            raw = inflater.decompress(raw, MAX_BATCH_BYTES + 1)
        except zlib.error as exc:
            raise _bad("invalid_gzip", f"the body is not valid gzip: {exc}") from None
        if inflater.unconsumed_tail:
            raw = raw + b"?"  # over the limit; reported below
    if len(raw) > MAX_BATCH_BYTES:
        raise _bad("batch_too_large", f"the request is larger than the {MAX_BATCH_BYTES // 1024} KB batch limit")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("invalid_json", "the body is not UTF-8 text") from None


# The decoder's C scanner parses one JSON value at a position and says where it ended.
_scan: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in JSONDecoder.__init__
_WS = re.compile(r"[ \t\n\r]*")


_SPACE = frozenset(" \t\n\r")


def _skip(s: str, idx: int) -> int:
    return _WS.match(s, idx).end()  # type: ignore[union-attr]  # the pattern matches the empty string


def _array(s: str, idx: int) -> tuple[list[Any], list[int], int]:
    """Parse the JSON array at ``s[idx]`` ('['), returning its items, the size of each item in bytes, and the end."""
    items: list[Any] = []
    sizes: list[int] = []
    add_item, add_size = items.append, sizes.append
    measure_from = MAX_EVENT_BYTES // 4  # characters undercount non-ASCII text: count bytes only when it matters
    idx = _skip(s, idx + 1)
    if s[idx] == "]":
        return items, sizes, idx + 1
    while True:
        start = idx
        value, idx = _scan(s, idx)
        size = idx - start
        add_item(value)
        add_size(size if size <= measure_from else len(s[start:idx].encode("utf-8")))
        c = s[idx]
        if c in _SPACE:
            idx = _skip(s, idx)
            c = s[idx]
        if c == ",":
            idx += 1
            if s[idx] in _SPACE:  # json.dumps writes ", " between items
                idx = _skip(s, idx)
        elif c == "]":
            return items, sizes, idx + 1
        else:
            raise StopIteration(idx)


def parse(text: str) -> tuple[Any, list[int] | None]:
    """The JSON value of ``text`` and, for a top-level array or a top-level object's ``batch`` array, the size
    of each element (so the 32 KB event limit costs no second pass)."""
    try:
        idx = _skip(text, 0)
        sizes: list[int] | None = None
        value: Any
        if text[idx] == "[":
            value, sizes, idx = _array(text, idx)
        elif text[idx] == "{":
            obj: dict[str, Any] = {}
            idx = _skip(text, idx + 1)
            if text[idx] == "}":
                idx += 1
            else:
                while True:
                    if text[idx] != '"':
                        raise StopIteration(idx)
                    key, idx = _scan(text, idx)
                    idx = _skip(text, idx)
                    if text[idx] != ":":
                        raise StopIteration(idx)
                    idx = _skip(text, idx + 1)
                    if key == "batch" and text[idx] == "[":
                        obj[key], sizes, idx = _array(text, idx)
                    else:
                        obj[key], idx = _scan(text, idx)
                    idx = _skip(text, idx)
                    if text[idx] == ",":
                        idx = _skip(text, idx + 1)
                    elif text[idx] == "}":
                        idx += 1
                        break
                    else:
                        raise StopIteration(idx)
            value = obj
        else:
            raise StopIteration(idx)
        if _skip(text, idx) != len(text):
            raise StopIteration(idx)
    except (StopIteration, IndexError, ValueError) as exc:
        at = exc.value if isinstance(exc, StopIteration) else None
        where = f" near character {at}" if isinstance(at, int) else ""
        raise _bad("invalid_json", f"the body is not valid JSON{where}") from None
    return value, sizes


def _check_sizes(sizes: list[int] | None, what: str) -> None:
    if sizes:
        for i, size in enumerate(sizes):
            if size > MAX_EVENT_BYTES:
                raise _bad(
                    "event_too_large",
                    f"{what}[{i}] is {size:,} bytes; one event may be at most {MAX_EVENT_BYTES // 1024} KB",
                )


# --- values ---------------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_time(value: Any, field: str, suffix: str = "") -> dt.datetime | None:
    """An ISO 8601 text or epoch number as naive UTC; None when absent. ``field + suffix`` names it in errors (kept
    apart so that the hot path formats no text)."""
    if value is None or value == "":
        return None
    if type(value) is str:
        if value[-1] == "Z" and "+" not in value:  # the common case, UTC: no time-zone arithmetic needed
            try:
                return dt.datetime.fromisoformat(value[:-1])
            except ValueError:
                pass
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _bad(
                "invalid_timestamp", f"{field}{suffix}: {value[:40]!r} is not an ISO 8601 date and time"
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds (JavaScript) or seconds
        try:
            return (_EPOCH + dt.timedelta(seconds=seconds)).replace(tzinfo=None)
        except OverflowError:
            raise _bad("invalid_timestamp", f"{field}{suffix}: {value} is out of range") from None
    raise _bad("invalid_timestamp", f"{field}{suffix} must be an ISO 8601 date and time")


def _text_id(value: Any) -> str | None:
    """An identifier as text: strings kept, numbers written out, empty and other types absent."""
    if type(value) is str:
        if value and len(value) <= 200 and value[0] > " " and value[-1] > " ":
            return value
        value = value.strip()
        return value[:200] or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _dict(value: Any, field: str, suffix: str = "") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad("invalid_event", f"{field}{suffix} must be a JSON object")
    return value


def generated_id(source_id: int, distinct_id: str, event: str, when: Any, properties: Mapping[str, Any]) -> str:
    """A stable id for an event sent without one, so that resending the same event is still recognised."""
    basis = json.dumps([source_id, distinct_id, event, str(when), properties], sort_keys=True, default=str)
    return "gen-" + hashlib.blake2b(basis.encode(), digest_size=16).hexdigest()


def _skew(received_at: dt.datetime, sent_at: dt.datetime | None) -> dt.timedelta | None:
    return None if sent_at is None else received_at - sent_at


def _when(
    raw: Any, skew: dt.timedelta | None, received_at: dt.datetime, field: str, suffix: str = "", offset: Any = None
) -> dt.datetime:
    """An event's time: its timestamp moved by the client's clock ``skew`` (received − sent), or else the time of
    receipt (less PostHog's ``offset`` milliseconds)."""
    moment = parse_time(raw, field, suffix)
    if moment is None:
        if isinstance(offset, int | float) and not isinstance(offset, bool) and 0 <= offset < 1e10:
            return received_at - dt.timedelta(milliseconds=offset)
        return received_at
    return moment + skew if skew is not None else moment


_HERE = "\x00"
"""Stands for the message's place (``batch[3]``) in error texts; filled in only when there is an error."""


def _placed(exc: IngestError, place: str) -> IngestError:
    return IngestError(exc.status, exc.code, exc.message.replace(_HERE, place))


# --- Segment --------------------------------------------------------------------------------


def segment_key(top: Any) -> str | None:
    """The write key in a Segment body (``writeKey``), if any."""
    return _text_id(top.get("writeKey")) if isinstance(top, dict) else None


def segment_messages(
    top: Any, sizes: list[int] | None, call: str, source_id: int, received_at: dt.datetime, body_bytes: int
) -> list[Message]:
    """The messages of a Segment request: ``call`` is ``batch`` or one of :data:`SEGMENT_TYPES` (the endpoint)."""
    if not isinstance(top, dict):
        raise _bad("invalid_body", "the body must be a JSON object")
    if call == "batch":
        batch = top.get("batch")
        if not isinstance(batch, list):
            raise _bad("invalid_body", "batch must be a list of messages")
        _check_sizes(sizes, "batch")
        shared = _dict(top.get("context"), "context")
        sent = parse_time(top.get("sentAt"), "sentAt")
        where = "batch"
    else:
        if body_bytes > MAX_EVENT_BYTES:
            raise _bad("event_too_large", f"one event may be at most {MAX_EVENT_BYTES // 1024} KB")
        batch = [top]
        shared = {}
        sent = None
        where = call
    skew = _skew(received_at, sent)
    out: list[Message] = []
    for i, msg in enumerate(batch):
        try:
            if not isinstance(msg, dict):
                raise _bad("invalid_event", f"{_HERE} must be a JSON object")
            out.append(_segment_message(msg, call, _HERE, shared, skew, source_id, received_at))
        except IngestError as exc:
            raise _placed(exc, f"{where}[{i}]" if call == "batch" else call) from None
    return out


def _segment_message(
    msg: dict[str, Any],
    call: str,
    label: str,
    shared: dict[str, Any],
    batch_skew: dt.timedelta | None,
    source_id: int,
    received_at: dt.datetime,
) -> Message:
    kind = msg.get("type") if call == "batch" else call
    if kind not in SEGMENT_TYPES:
        raise _bad("invalid_event", f"{label}.type must be one of {', '.join(SEGMENT_TYPES)}")
    user_id = _text_id(msg.get("userId"))
    anonymous_id = _text_id(msg.get("anonymousId"))
    distinct_id = user_id or anonymous_id
    if distinct_id is None:
        raise _bad("missing_id", f"{label}: userId or anonymousId is required")
    properties = dict(_dict(msg.get("properties"), label, ".properties"))
    context = _dict(msg.get("context"), label, ".context")
    if shared:
        context = {**shared, **context}
    group_key = _text_id(context.get("groupId")) if context else None
    event, op, group_key = _segment_kind(kind, msg, label, properties, context, user_id, anonymous_id, group_key)
    if context:
        properties["$context"] = context
    own_sent = msg.get("sentAt")
    skew = batch_skew if own_sent is None else _skew(received_at, parse_time(own_sent, label, ".sentAt"))
    raw_time = msg.get("timestamp") or msg.get("originalTimestamp")
    timestamp = _when(raw_time, skew, received_at, label, ".timestamp")
    uuid = _text_id(msg.get("messageId")) or generated_id(source_id, distinct_id, event, raw_time, properties)
    return (uuid, event, distinct_id, timestamp, properties, op, group_key)


def _segment_kind(
    kind: str, msg: dict[str, Any], label: str, properties: dict[str, Any], context: dict[str, Any],
    user_id: str | None, anonymous_id: str | None, group_key: str | None,
) -> tuple[str, tuple[Any, ...] | None, str | None]:  # fmt: skip
    """The event name, identity operation and group of one Segment message (``properties`` is completed in place)."""
    op: tuple[Any, ...] | None = None
    if kind == "track":
        event = msg.get("event")
        if not isinstance(event, str) or not event.strip():
            raise _bad("invalid_event", f"{label}.event (the event name) is required")
        return event.strip()[:200], None, group_key
    if kind in {"page", "screen"}:
        name = _text_id(msg.get("name"))
        if name:
            properties.setdefault("$page_name" if kind == "page" else "$screen_name", name)
        category = _text_id(msg.get("category"))
        if category:
            properties.setdefault("$category", category)
        return ("$pageview" if kind == "page" else "$screen"), None, group_key
    if kind == "identify":
        traits = _dict(msg.get("traits"), label, ".traits") or _dict(context.get("traits"), label, ".context.traits")
        properties["$set"] = traits
        op = ("identify", user_id, anonymous_id, traits) if user_id else ("set", traits)
        return "$identify", op, group_key
    if kind == "group":
        group_id = _text_id(msg.get("groupId"))
        if group_id is None:
            raise _bad("invalid_event", f"{label}.groupId is required")
        traits = _dict(msg.get("traits"), label, ".traits")
        properties.update({"$group_key": group_id, "$group_set": traits})
        return "$groupidentify", ("group", group_id, traits), group_id
    previous = _text_id(msg.get("previousId"))  # alias
    if previous is None or user_id is None:
        raise _bad("invalid_event", f"{label}: alias needs userId and previousId")
    properties.update({"alias": user_id, "previous_id": previous})
    return "$create_alias", ("alias", user_id, previous), group_key


# --- PostHog --------------------------------------------------------------------------------


def posthog_key(top: Any) -> str | None:
    """The project key in a PostHog body: ``api_key`` or ``token`` at the top, else on the first event."""
    if isinstance(top, dict):
        key = _text_id(top.get("api_key")) or _text_id(top.get("token"))
        if key:
            return key
        events: list[Any] = top["batch"] if isinstance(top.get("batch"), list) else [top]
    elif isinstance(top, list):
        events = top
    else:
        return None
    for event in events[:1]:
        if isinstance(event, dict):
            props = event.get("properties")
            return (
                _text_id(event.get("api_key"))
                or _text_id(event.get("token"))
                or (_text_id(props.get("token")) if isinstance(props, dict) else None)
            )
    return None


def posthog_messages(
    top: Any, sizes: list[int] | None, source_id: int, received_at: dt.datetime, body_bytes: int
) -> list[Message]:
    """The messages of a PostHog capture request (``/batch/`` body, a single event, or a list of events)."""
    sent_raw = None
    if isinstance(top, list):
        batch, where = top, "batch"
        _check_sizes(sizes, "batch")
    elif isinstance(top, dict) and isinstance(top.get("batch"), list):
        batch, where = top["batch"], "batch"
        _check_sizes(sizes, "batch")
        sent_raw = top.get("sent_at")
    elif isinstance(top, dict) and "event" in top:
        if body_bytes > MAX_EVENT_BYTES:
            raise _bad("event_too_large", f"one event may be at most {MAX_EVENT_BYTES // 1024} KB")
        batch, where = [top], "event"
        sent_raw = top.get("sent_at")
    else:
        raise _bad("invalid_body", 'send an event object, a list of events or {"batch": [...]}')
    skew = _skew(received_at, parse_time(sent_raw, "sent_at"))
    out: list[Message] = []
    for i, event in enumerate(batch):
        try:
            if not isinstance(event, dict):
                raise _bad("invalid_event", f"{_HERE} must be a JSON object")
            out.append(_posthog_event(event, _HERE, skew, source_id, received_at))
        except IngestError as exc:
            raise _placed(exc, f"{where}[{i}]" if where == "batch" else where) from None
    return out


def _posthog_event(
    event: dict[str, Any], label: str, skew: dt.timedelta | None, source_id: int, received_at: dt.datetime
) -> Message:
    name = event.get("event")
    if not isinstance(name, str) or not name.strip():
        raise _bad("invalid_event", f"{label}.event (the event name) is required")
    name = name.strip()[:200]
    properties = dict(_dict(event.get("properties"), label, ".properties"))
    distinct_id = _text_id(event.get("distinct_id")) or _text_id(properties.get("distinct_id"))
    if distinct_id is None:
        raise _bad("missing_id", f"{label}.distinct_id is required")
    for private in ("token", "api_key", "distinct_id"):
        properties.pop(private, None)
    to_set = event.get("$set", properties.get("$set"))
    if to_set is not None:
        properties["$set"] = _dict(to_set, label, ".$set")
    if "$set_once" in event:
        properties["$set_once"] = _dict(event["$set_once"], label, ".$set_once")
    op: tuple[Any, ...] | None = None
    if name == "$identify":
        anon = _text_id(properties.get("$anon_distinct_id"))
        op = ("identify", distinct_id, anon, properties.get("$set") or {})
    elif name == "$create_alias":
        alias = _text_id(properties.get("alias"))
        if alias is None:
            raise _bad("invalid_event", f"{label}: $create_alias needs properties.alias")
        op = ("alias", alias, distinct_id)
    elif name == "$groupidentify":
        key = _text_id(properties.get("$group_key"))
        if key is None:
            raise _bad("invalid_event", f"{label}: $groupidentify needs properties.$group_key")
        op = ("group", key, _dict(properties.get("$group_set"), label, ".properties.$group_set"))
    elif properties.get("$set") or properties.get("$set_once"):
        op = ("set", {**(properties.get("$set_once") or {}), **(properties.get("$set") or {})})
    group_key = None
    groups = properties.get("$groups")
    if isinstance(groups, dict) and groups:
        group_key = _text_id(next(iter(groups.values())))
    if op is not None and op[0] == "group":
        group_key = op[1]
    raw_time = event.get("timestamp")
    timestamp = _when(raw_time, skew, received_at, label, ".timestamp", offset=event.get("offset"))
    uuid = _text_id(event.get("uuid")) or generated_id(source_id, distinct_id, name, raw_time, properties)
    return (uuid, name, distinct_id, timestamp, properties, op, group_key)


def messages_of(
    protocol: Protocol, call: str, top: Any, sizes: list[int] | None, source_id: int, received_at: dt.datetime,
    body_bytes: int,
) -> list[Message]:  # fmt: skip
    if protocol == "segment":
        return segment_messages(top, sizes, call, source_id, received_at, body_bytes)
    return posthog_messages(top, sizes, source_id, received_at, body_bytes)
