"""Errors services raise; the web layer turns them into HTTP responses with a field-level message."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def as_detail(self) -> list[dict[str, object]]:
        loc: list[str] = ["body", self.field] if self.field else ["body"]
        return [{"loc": loc, "msg": self.message, "type": type(self).__name__.lower()}]


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
