"""Text from mail and chat bodies: HTML to plain text, and the new part of a reply (quotes and signatures cut)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    }
)
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table", "pre"})
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript", "svg"})


class _TextExtractor(HTMLParser):
    """Plain text from HTML: block elements become lines, lists get dashes, ``<blockquote>`` lines get ``> `` (so
    quoted replies in HTML mail are stripped like plain-text ones), scripts and styles vanish, entities decode."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str, bool]] = []
        self._current: list[str] = []
        self._current_depth = 0
        self._skip = 0
        self._quote = 0
        self._pre = 0

    def _break(self, blank: bool = False) -> None:
        text = "".join(self._current)
        if text.strip():
            self.lines.append((self._current_depth, text, self._pre > 0))
        self._current = []
        if blank and self.lines and self.lines[-1][1] != "":
            self.lines.append((0, "", False))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
            return
        if tag == "br":
            self._break()
        elif tag in _BLOCK_TAGS:
            self._break(blank=tag in _PARAGRAPH_TAGS)
        if tag == "blockquote":
            self._quote += 1
        elif tag == "pre":
            self._pre += 1
        elif tag == "li":
            self._write("- ")
        elif tag in ("td", "th"):
            self._write(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
            return
        if tag in _BLOCK_TAGS:
            self._break(blank=tag in _PARAGRAPH_TAGS)
        if tag == "blockquote":
            self._quote = max(0, self._quote - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            for n, piece in enumerate(data.split("\n")):
                if n:
                    self._break()
                self._write(piece)
            return
        self._write(re.sub(r"\s+", " ", data))

    def _write(self, text: str) -> None:
        if not self._current:
            self._current_depth = self._quote
            text = text.lstrip() if not self._pre else text
        if text:
            self._current.append(text)

    def text(self) -> str:
        self._break()
        out = []
        for depth, raw, pre in self.lines:
            line = raw.rstrip() if pre else " ".join(raw.split())
            out.append(f"{'> ' * depth}{line}" if line else "")
        return tidy("\n".join(out))


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body (stdlib ``html.parser``; no markup survives)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.text()


def tidy(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line in a row, no blank lines around."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


_REPLY_INTRO = re.compile(r"^(On|Am|Le|El|Op|Il|Em)\s", re.IGNORECASE)
_REPLY_END = re.compile(
    r"((wrote|a écrit|escribió|ha scritto|escreveu)\s*:|\b(schrieb|schreef)\b.*:)\s*$", re.IGNORECASE
)
_ORIGINAL = re.compile(r"^-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}$", re.I)
_FORWARDED = re.compile(r"^-{2,}\s*Forwarded message\s*-{2,}$|^Begin forwarded message:$", re.IGNORECASE)
_OUTLOOK_FIELD = re.compile(r"^(Sent|Date|Gesendet|Envoyé)\s*:", re.IGNORECASE)
_DEVICE_FOOTER = re.compile(r"^(Sent from my |Sent from Mail for |Get Outlook for |Sent via )", re.IGNORECASE)


def _is_reply_header(lines: Sequence[str], i: int) -> bool:
    line = lines[i].strip()
    if _REPLY_INTRO.match(line) and _REPLY_END.search(line):
        return True
    # Gmail and Apple Mail wrap long "On <date>, <name> <address> wrote:" lines.
    if _REPLY_INTRO.match(line) and len(line) < 200 and i + 1 < len(lines):
        return bool(_REPLY_END.search(lines[i + 1].strip()))
    if _ORIGINAL.match(line):
        return True
    # Outlook: "From: ..." followed by "Sent: ..." (or "Date:") heads the quoted message.
    if line.lower().startswith(("from:", "von:", "de:")):
        following = [ln.strip() for ln in lines[i + 1 : i + 4] if ln.strip()]
        return any(_OUTLOOK_FIELD.match(ln) for ln in following)
    return False


def strip_reply(text: str) -> str:
    """The new part of a message: quoted replies ("On … wrote:" and everything after it, Outlook's "From:/Sent:"
    block, lines starting with ``>``), the ``-- `` signature and device footers are removed. A forwarded message's
    content is kept. May return an empty string when nothing new is left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    forwarded = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line.rstrip("\n") == "-- " or stripped == "--":
            break  # RFC 3676 signature separator
        if _FORWARDED.match(stripped):
            forwarded = True
        if not forwarded and _is_reply_header(lines, i):
            break
        if stripped.startswith(">"):
            continue
        if not forwarded and len(stripped) >= 10 and stripped == "_" * len(stripped):
            # Outlook's rule above the quoted message's "From:/Sent:" block.
            following = next((j for j in range(i + 1, min(i + 3, len(lines))) if lines[j].strip()), None)
            if following is not None and _is_reply_header(lines, following):
                break
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    if kept and _DEVICE_FOOTER.match(kept[-1].strip()):
        kept.pop()
    return tidy("\n".join(kept))


def clip(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[: limit - 1].rstrip() + "…", True


def one_line(text: str) -> str:
    return " ".join(text.split())
