"""Uploaded files kept between the steps of an import wizard, under ``<data_dir>/uploads/``, for a day."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import unicodedata
from pathlib import Path

from prodops.platform.config import get_settings
from prodops.platform.errors import NotFound, ServiceError

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
MAX_AGE = dt.timedelta(days=1)


class UploadNotFound(NotFound):
    def __init__(self) -> None:
        ServiceError.__init__(self, None, "This upload does not exist or has expired. Upload the file again.")


def uploads_dir() -> Path:
    path = get_settings().data_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean_filename(filename: str) -> str:
    """The file's own name for display only: no folders, no control characters, at most 200 characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return name[-200:] or "upload"


def _paths(upload_id: str) -> tuple[Path, Path]:
    if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
        raise UploadNotFound
    folder = uploads_dir()
    return folder / f"{upload_id}.bin", folder / f"{upload_id}.json"


def save_upload(data: bytes, filename: str) -> str:
    """Store ``data`` and return its id (32 random hex digits). The filename is kept as metadata only."""
    upload_id = secrets.token_hex(16)
    blob, meta = _paths(upload_id)
    info = {
        "filename": clean_filename(filename),
        "size": len(data),
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    for path, content in ((blob, data), (meta, json.dumps(info).encode())):
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(content)
        partial.replace(path)
    return upload_id


def load_upload(upload_id: str) -> tuple[bytes, str]:
    """(bytes, original filename) of an upload; `UploadNotFound` (404) for an unknown, expired or malformed id."""
    blob, meta = _paths(upload_id)
    try:
        data = blob.read_bytes()
        info = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise UploadNotFound from exc
    return data, str(info.get("filename") or "upload")


def delete_upload(upload_id: str) -> None:
    """Forget an upload (after a committed import). Unknown ids are ignored."""
    try:
        paths = _paths(upload_id)
    except UploadNotFound:
        return
    for path in paths:
        path.unlink(missing_ok=True)


def cleanup_uploads(max_age: dt.timedelta = MAX_AGE, *, now: dt.datetime | None = None) -> int:
    """Delete uploads older than ``max_age`` (by file time); returns how many were removed. Safe to run any time."""
    cutoff = (now or dt.datetime.now(dt.UTC)).timestamp() - max_age.total_seconds()
    removed = 0
    for path in uploads_dir().iterdir():
        stem = path.name.split(".", 1)[0]
        if not UPLOAD_ID.fullmatch(stem) or not path.is_file():
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                if path.suffix == ".bin":
                    removed += 1
        except OSError:
            continue
    return removed


__all__ = ["UploadNotFound", "cleanup_uploads", "delete_upload", "load_upload", "save_upload", "uploads_dir"]
