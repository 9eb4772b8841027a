"""A small IMAP4rev1 server on a local socket, for testing the IMAP poll with the real ``imaplib`` client.

It speaks the part of RFC 3501 a mailbox poller uses — CAPABILITY, NOOP, LOGIN, SELECT/EXAMINE, SEARCH (ALL,
UNSEEN, SEEN, FLAGGED), FETCH (BODY.PEEK[], BODY[], RFC822, FLAGS, UID, RFC822.SIZE), STORE (±FLAGS, .SILENT), the
UID forms of the last three, CLOSE and LOGOUT — and follows the RFC where it matters to a client: fetching
``BODY[]`` or ``RFC822`` sets ``\\Seen`` implicitly, ``BODY.PEEK[]`` does not. Every command is logged.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field
from types import TracebackType


@dataclass
class StoredMessage:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


def _tokens(text: str) -> list[str]:
    """Split an IMAP command line: atoms, "quoted strings" (with \\ escapes) and (parenthesised lists)."""
    found: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == " ":
            i += 1
        elif ch == '"':
            j, buf = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                buf.append(text[j])
                j += 1
            found.append("".join(buf))
            i = j + 1
        elif ch == "(":
            depth, j = 0, i
            while j < len(text):
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            found.append(text[i:j])
            i = j
        else:
            j = text.find(" ", i)
            j = len(text) if j < 0 else j
            found.append(text[i:j])
            i = j
    return found


class ImapServer:
    """``with ImapServer(user, password) as server:`` listens on ``server.port`` until the block ends."""

    def __init__(self, user: str, password: str, mailbox: str = "INBOX") -> None:
        self.user = user
        self.password = password
        self.mailbox = mailbox
        self.messages: list[StoredMessage] = []
        self.commands: list[str] = []
        self.lock = threading.Lock()
        self._next_uid = 100
        self._server: socketserver.ThreadingTCPServer | None = None

    # --- the mailbox ------------------------------------------------------------------------------

    def add(self, raw: bytes, *flags: str) -> StoredMessage:
        with self.lock:
            self._next_uid += 7  # UIDs are not sequence numbers: a client that mixes them up fails the tests
            message = StoredMessage(self._next_uid, raw, set(flags))
            self.messages.append(message)
            return message

    def flags(self, message: StoredMessage) -> set[str]:
        with self.lock:
            return set(message.flags)

    # --- the socket -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def __enter__(self) -> ImapServer:
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                _Session(server, self).run()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


class _Session:
    def __init__(self, server: ImapServer, handler: socketserver.StreamRequestHandler) -> None:
        self.server = server
        self.rfile = handler.rfile
        self.wfile = handler.wfile
        self.authenticated = False
        self.selected = False

    def send(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        self.wfile.write(data + b"\r\n")

    def run(self) -> None:
        self.send("* OK IMAP4rev1 test server ready")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            parts = line.split(" ", 2)
            if len(parts) < 2:
                self.send("* BAD missing command")
                continue
            tag, command = parts[0], parts[1].upper()
            args = _tokens(parts[2]) if len(parts) > 2 else []
            with self.server.lock:
                self.server.commands.append(f"{command} {' '.join(args)}".strip())
            uid = False
            if command == "UID" and args:
                uid, command, args = True, args[0].upper(), args[1:]
            if self.dispatch(tag, command, args, uid) is False:
                return

    def dispatch(self, tag: str, command: str, args: list[str], uid: bool) -> bool:
        if command == "CAPABILITY":
            self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            self.send(f"{tag} OK CAPABILITY completed")
        elif command == "NOOP":
            self.send(f"{tag} OK NOOP completed")
        elif command == "LOGOUT":
            self.send("* BYE logging out")
            self.send(f"{tag} OK LOGOUT completed")
            return False
        elif command == "LOGIN":
            if len(args) == 2 and args[0] == self.server.user and args[1] == self.server.password:
                self.authenticated = True
                self.send(f"{tag} OK LOGIN completed")
            else:
                self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
        elif not self.authenticated:
            self.send(f"{tag} BAD authenticate first")
        elif command in ("SELECT", "EXAMINE"):
            self.select(tag, command, args)
        elif not self.selected:
            self.send(f"{tag} BAD select a mailbox first")
        elif command == "SEARCH":
            self.search(tag, args, uid)
        elif command == "FETCH" and len(args) >= 2:
            self.fetch(tag, args[0], " ".join(args[1:]), uid)
        elif command == "STORE" and len(args) >= 3:
            self.store(tag, args[0], args[1], " ".join(args[2:]), uid)
        elif command == "CLOSE":
            self.selected = False
            self.send(f"{tag} OK CLOSE completed")
        else:
            self.send(f"{tag} BAD unknown command {command}")
        return True

    def select(self, tag: str, command: str, args: list[str]) -> None:
        if not args or args[0].upper() != self.server.mailbox.upper():
            self.send(f"{tag} NO [NONEXISTENT] no such mailbox")
            return
        self.selected = True
        with self.server.lock:
            count = len(self.server.messages)
            next_uid = self.server._next_uid + 1
        self.send(r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)")
        self.send(f"* {count} EXISTS")
        self.send("* 0 RECENT")
        self.send("* OK [UIDVALIDITY 1] UIDs valid")
        self.send(f"* OK [UIDNEXT {next_uid}] next UID")
        mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
        self.send(f"{tag} OK [{mode}] {command} completed")

    def _matching(self, sequence: str, uid: bool) -> list[tuple[int, StoredMessage]]:
        """(sequence number, message) pairs for a set like ``3``, ``1,4`` or ``2:*``."""
        with self.server.lock:
            numbered = list(enumerate(self.server.messages, start=1))
        if not numbered:
            return []
        highest = numbered[-1][1].uid if uid else numbered[-1][0]
        wanted: set[int] = set()
        for piece in sequence.split(","):
            low, _, high = piece.partition(":")
            start = highest if low == "*" else int(low)
            end = start if not high else (highest if high == "*" else int(high))
            wanted.update(range(min(start, end), max(start, end) + 1))
        return [(n, m) for n, m in numbered if (m.uid if uid else n) in wanted]

    def search(self, tag: str, args: list[str], uid: bool) -> None:
        criteria = [a.upper() for a in args if a.upper() != "CHARSET" and a.upper() != "UTF-8"]
        with self.server.lock:
            numbered = list(enumerate(self.server.messages, start=1))
        hits = []
        for n, message in numbered:
            ok = True
            for criterion in criteria:
                if criterion == "UNSEEN":
                    ok &= "\\Seen" not in message.flags
                elif criterion == "SEEN":
                    ok &= "\\Seen" in message.flags
                elif criterion == "FLAGGED":
                    ok &= "\\Flagged" in message.flags
                elif criterion != "ALL":
                    self.send(f"{tag} BAD unsupported search criterion {criterion}")
                    return
            if ok:
                hits.append(str(message.uid if uid else n))
        self.send(f"* SEARCH {' '.join(hits)}".rstrip())
        self.send(f"{tag} OK SEARCH completed")

    def fetch(self, tag: str, sequence: str, items: str, uid: bool) -> None:
        wanted = items.strip("()").upper()
        for n, message in self._matching(sequence, uid):
            pieces: list[bytes] = [f"UID {message.uid}".encode()]
            literal: bytes | None = None
            if "RFC822.SIZE" in wanted:
                pieces.append(f"RFC822.SIZE {len(message.raw)}".encode())
            if "BODY.PEEK[]" in wanted:
                literal = b"BODY[]"
            elif "BODY[]" in wanted or re.search(r"\bRFC822\b(?!\.)", wanted):
                literal = b"BODY[]" if "BODY[]" in wanted else b"RFC822"
                with self.server.lock:
                    message.flags.add("\\Seen")  # RFC 3501: fetching the body sets \Seen
            if "FLAGS" in wanted.replace("RFC822.SIZE", ""):
                with self.server.lock:
                    flags = " ".join(sorted(message.flags))
                pieces.append(f"FLAGS ({flags})".encode())
            head = b"* " + str(n).encode() + b" FETCH (" + b" ".join(pieces)
            if literal is None:
                self.send(head + b")")
            else:
                self.send(head + b" " + literal + b" {" + str(len(message.raw)).encode() + b"}")
                self.wfile.write(message.raw)
                self.send(b")")
        self.send(f"{tag} OK FETCH completed")

    def store(self, tag: str, sequence: str, action: str, flag_list: str, uid: bool) -> None:
        flags = set(flag_list.strip("()").split())
        silent = action.upper().endswith(".SILENT")
        mode = action.upper().removesuffix(".SILENT")
        for n, message in self._matching(sequence, uid):
            with self.server.lock:
                if mode == "+FLAGS":
                    message.flags |= flags
                elif mode == "-FLAGS":
                    message.flags -= flags
                elif mode == "FLAGS":
                    message.flags = set(flags)
                else:
                    self.send(f"{tag} BAD unknown STORE action {action}")
                    return
                current = " ".join(sorted(message.flags))
            if not silent:
                self.send(f"* {n} FETCH (UID {message.uid} FLAGS ({current}))")
        self.send(f"{tag} OK STORE completed")
