"""The write-ahead log that makes an accepted event durable before the client hears "200".

Each accepted request becomes one record appended to the current segment file (``analytics-wal/<n>.wal`` in the
data directory) and fsync'ed before the request is answered. One writer thread does the writing; requests that
arrive while it is fsync'ing queue up and are written and fsync'ed together on its next round (group commit), so a
busy server pays one fsync per round rather than one per request.

Record framing: ``<length:u32><crc32:u32><payload>``. A record cut short by a crash (never acknowledged, because its
fsync had not returned) fails its length or checksum and ends the segment's replay.

The pipeline rotates the log (:meth:`WriteAheadLog.rotate`): the current segment is closed and handed over with the
in-memory copies of exactly the records it holds; a new segment takes the following writes. A segment file is deleted
only once its events are in the warehouse; whatever segments remain at start-up are replayed.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

_HEADER = struct.Struct("<II")
SUFFIX = ".wal"


def segments(directory: Path) -> list[Path]:
    """The segment files in ``directory``, oldest first."""
    found = [p for p in directory.glob(f"*{SUFFIX}") if p.stem.isdigit()]
    return sorted(found, key=lambda p: int(p.stem))


def read_segment(path: Path) -> Iterator[bytes]:
    """The complete records of a segment, in order (a torn tail is ignored)."""
    data = path.read_bytes()
    at = 0
    while at + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, at)
        start = at + _HEADER.size
        payload = data[start : start + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            return
        yield payload
        at = start + length


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class LogClosed(RuntimeError):
    """The log no longer takes records (the server is shutting down)."""


class WriteAheadLog:
    """Appends records durably with group commit; see the module docstring."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        existing = segments(directory)
        self._seq = int(existing[-1].stem) + 1 if existing else 1
        self._io = threading.Lock()
        self._fd = self._open(self._seq)
        self._written = 0
        self._items: list[Any] = []
        self._pending: list[tuple[bytes, Any, Future[None]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self.rounds = 0
        """fsync rounds so far (the benchmark reports records per round)."""
        self._thread = threading.Thread(target=self._run, name="analytics-wal", daemon=True)
        self._thread.start()

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:012d}{SUFFIX}"

    def _open(self, seq: int) -> int:
        fd = os.open(self._path(seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's name is durable too
        finally:
            os.close(dir_fd)
        return fd

    def submit(self, payload: bytes, item: Any) -> Future[None]:
        """Queue a record; the future resolves once it is on disk (``item`` then joins the current segment).

        The checksum is computed by the writer thread: zlib releases the GIL on large buffers, and an event loop
        that lets go of the GIL waits up to a switch interval (5 ms) to get it back."""
        future: Future[None] = Future()
        with self._cond:
            if self._closed:
                raise LogClosed("the write-ahead log is closed")
            self._pending.append((payload, item, future))  # framed by the writer thread, off the caller's thread
            self._cond.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
            try:
                with self._io:
                    data = b"".join(frame(record) for record, _, _ in batch)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(self._fd, view) :]
                    os.fsync(self._fd)
                    self._written += len(data)
                    self._items.extend(item for _, item, _ in batch)
                    self.rounds += 1
            except BaseException as exc:  # a full disk: refuse these requests, keep serving
                for _, _, future in batch:
                    future.set_exception(exc)
                continue
            for _, _, future in batch:
                future.set_result(None)

    def rotate(self) -> tuple[Path | None, list[Any]]:
        """Close the current segment and start a new one; returns the closed file (None when it was empty) and
        the items of the records it holds."""
        with self._io:
            if not self._written:
                return None, []
            if self._fd >= 0:
                os.close(self._fd)
            closed = self._path(self._seq)
            self._seq += 1
            self._fd = -1 if self._closed else self._open(self._seq)
            self._written = 0
            items, self._items = self._items, []
            return closed, items

    def close(self) -> None:
        """Stop the writer after it has written what is queued; the current segment stays for :meth:`rotate` (which
        still hands it over) or the next start."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=10)
        with self._io:
            os.close(self._fd)
            self._fd = -1
            if not self._written:
                self._path(self._seq).unlink(missing_ok=True)
