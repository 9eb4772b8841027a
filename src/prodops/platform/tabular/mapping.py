"""Column mapping and row validation: from a `Table` of text to validated Pydantic objects, or `RowError`s."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from prodops.platform.tabular.table import RowError, Table, shorten

M = TypeVar("M", bound=BaseModel)

Record = tuple[int, dict[str, str]]
"""(file row number, {field: cell text}) — what `apply_mapping` returns and `validate_rows` takes."""


@dataclass(frozen=True)
class ColumnSpec:
    """One target field of an import. ``name`` must be a field of the Pydantic model the rows are validated with."""

    name: str
    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    """Other header names that map to this field automatically (compared ignoring case, spaces and punctuation)."""
    help: str = ""


def normalise_header(text: str) -> str:
    """'E-mail Address ' → 'emailaddress': case, spaces, underscores and punctuation do not matter."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def guess_mapping(headers: Sequence[str], columns: Sequence[ColumnSpec]) -> dict[str, str]:
    """field → header for every field whose name, label or alias matches a header; each header is used once."""
    claims: dict[str, str] = {}
    for spec in columns:
        for candidate in (spec.name, spec.label, *spec.aliases):
            claims.setdefault(normalise_header(candidate), spec.name)
    mapping: dict[str, str] = {}
    for header in headers:
        field = claims.get(normalise_header(header))
        if field is not None and field not in mapping:
            mapping[field] = header
    return mapping


def _describe_spec(spec: ColumnSpec) -> str:
    names = [spec.label, *spec.aliases]
    return " or ".join(repr(n) for n in dict.fromkeys(names))


def check_mapping(
    headers: Sequence[str], mapping: Mapping[str, str | None], columns: Sequence[ColumnSpec]
) -> tuple[dict[str, str], list[RowError]]:
    """The usable part of ``mapping`` (blank entries dropped) and its problems as row-0 `RowError`s."""
    specs = {c.name: c for c in columns}
    known_headers = set(headers)
    clean: dict[str, str] = {}
    errors: list[RowError] = []
    for field, header in mapping.items():
        if not header:
            continue
        if field not in specs:
            fields = ", ".join(specs)
            errors.append(
                RowError(0, header, field, f"{field!r} is not a field of this import; the fields are {fields}.")
            )
        elif header not in known_headers:
            found = ", ".join(repr(h) for h in headers)
            errors.append(
                RowError(
                    0,
                    header,
                    field,
                    f"{specs[field].label}: the file has no column {header!r}; its columns are {found}.",
                )
            )
        else:
            clean[field] = header
    for spec in columns:
        if spec.required and spec.name not in clean and not any(e.field == spec.name for e in errors):
            errors.append(
                RowError(
                    0,
                    spec.label,
                    spec.name,
                    f"Required column {spec.label!r} is missing: add a column named {_describe_spec(spec)} "
                    "or choose which column holds it.",
                )
            )
    return clean, errors


def apply_mapping(
    table: Table, mapping: Mapping[str, str | None], columns: Sequence[ColumnSpec]
) -> tuple[list[Record], list[RowError]]:
    """Rename each row's cells to target fields (only mapped fields; values stripped of surrounding spaces).

    Returns ``[(row_number, {field: text}), ...]`` and the mapping's own errors (row 0: unknown field, a header
    that is not in the file, a required field left unmapped). With mapping errors the record list is empty.
    """
    clean, errors = check_mapping(table.headers, mapping, columns)
    if errors:
        return [], errors
    records = [
        (number, {field: row[header].strip() for field, header in clean.items()}) for number, row in table.numbered()
    ]
    return records, []


_FRIENDLY: dict[str, str] = {
    "int_parsing": "{value} is not a whole number.",
    "int_from_float": "{value} is not a whole number.",
    "int_type": "{value} is not a whole number.",
    "float_parsing": "{value} is not a number.",
    "float_type": "{value} is not a number.",
    "decimal_parsing": "{value} is not a number.",
    "decimal_type": "{value} is not a number.",
    "bool_parsing": "{value} is not yes or no (use true/false, yes/no or 1/0).",
    "date_parsing": "{value} is not a date (use YYYY-MM-DD).",
    "date_from_datetime_parsing": "{value} is not a date (use YYYY-MM-DD).",
    "date_from_datetime_inexact": "{value} is not a date without a time (use YYYY-MM-DD).",
    "datetime_parsing": "{value} is not a date and time (use YYYY-MM-DD HH:MM).",
    "datetime_from_date_parsing": "{value} is not a date and time (use YYYY-MM-DD HH:MM).",
    "enum": "{value} is not one of {expected}.",
    "literal_error": "{value} is not one of {expected}.",
    "string_too_long": "{value} is longer than {max_length} characters.",
    "string_too_short": "{value} is shorter than {min_length} characters.",
    "string_pattern_mismatch": "{value} does not have the expected format.",
    "greater_than": "{value} must be more than {gt}.",
    "greater_than_equal": "{value} must be at least {ge}.",
    "less_than": "{value} must be less than {lt}.",
    "less_than_equal": "{value} must be at most {le}.",
    "url_parsing": "{value} is not a web address.",
    "uuid_parsing": "{value} is not a UUID.",
}


def describe_error(error: ErrorDetails, label: str) -> str:
    """A Pydantic error in words a person understands, naming the field and quoting the bad value."""
    kind = error["type"]
    if kind == "missing":
        return f"{label} is required, but the cell is empty."
    value = shorten(error.get("input", ""))
    context: dict[str, Any] = dict(error.get("ctx") or {})
    template = _FRIENDLY.get(kind)
    if template is not None:
        try:
            return f"{label}: " + template.format(value=value, **context)
        except (KeyError, IndexError):
            pass
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ").rstrip(".")
    return f"{label}: {value} — {message[:1].lower()}{message[1:]}."


def validate_rows(
    records: Iterable[Record], model: type[M], mapping: Mapping[str, str | None], columns: Sequence[ColumnSpec]
) -> tuple[list[tuple[int, M]], list[RowError]]:
    """Validate every record with ``model``; each Pydantic error becomes a `RowError` naming the row, source column
    and field. A blank cell becomes ``None`` for a field whose default is None, and is left out otherwise (so the
    model's default applies, or a required field reports that the cell is empty)."""
    specs = {c.name: c for c in columns}
    fields = model.model_fields
    valid: list[tuple[int, M]] = []
    errors: list[RowError] = []
    for number, record in records:
        data: dict[str, Any] = {}
        for name, text in record.items():
            if text != "":
                data[name] = text
            elif name in fields and not fields[name].is_required() and fields[name].default is None:
                data[name] = None
        try:
            valid.append((number, model.model_validate(data)))
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                field = str(error["loc"][0]) if error["loc"] else None
                spec = specs.get(field) if field else None
                label = spec.label if spec else (field or "")
                column = (mapping.get(field) or None) if field else None
                if field is None:  # a model-level check about the row as a whole
                    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
                else:
                    message = describe_error(error, label)
                errors.append(RowError(number, column, field, message))
    return valid, errors
