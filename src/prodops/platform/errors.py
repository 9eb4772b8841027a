"""Errors services raise; the web layer turns them into HTTP responses with a field-level message."""

from __future__ import annotations

from collections.abc import Iterable


class ServiceError(Exception):
    """A refusal with one or more ``(field, message)`` pairs; ``field`` is None for the request as a whole."""

    status_code = 400

    def __init__(self, field: str | None, message: str, *, more: Iterable[tuple[str | None, str]] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.problems: list[tuple[str | None, str]] = [(field, message), *more]

    def as_detail(self) -> list[dict[str, object]]:
        kind = type(self).__name__.lower()
        return [{"loc": ["body", f] if f else ["body"], "msg": m, "type": kind} for f, m in self.problems]

    def field_errors(self) -> dict[str, str]:
        """Field name → first message about it (``_`` for the whole request), for inline form errors."""
        found: dict[str, str] = {}
        for field, message in self.problems:
            found.setdefault(field or "_", message)
        return found


class ValidationFailed(ServiceError):
    status_code = 422


class Conflict(ServiceError):
    status_code = 409


class NotFound(ServiceError):
    status_code = 404

    def __init__(self, entity: str, key: object) -> None:
        super().__init__(None, f"{entity} {key} not found")


class PermissionDenied(ServiceError):
    status_code = 403

    def __init__(self, message: str = "You do not have permission to do this.") -> None:
        super().__init__(None, message)
