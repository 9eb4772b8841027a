"""The chart component: a Vega-Lite spec (usually built with Altair) drawn in the browser by vega-embed.

The same spec renders to PNG/SVG with ``vl-convert-python`` for e-mails and exports.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import vl_convert
from markupsafe import Markup

_ID = re.compile(r"[^a-zA-Z0-9_-]")


def _as_dict(spec: Any) -> dict[str, Any]:
    if hasattr(spec, "to_dict"):
        return spec.to_dict()  # type: ignore[no-any-return]
    return dict(spec)


def chart(spec: Any = None, *, src: str | None = None, title: str = "", height: int = 260) -> Markup:
    """A chart placeholder. Give a spec to embed it, or ``src`` (a URL returning a spec) to load it after the page."""
    label = title or "Chart"
    if src is not None:
        return Markup(
            '<figure class="chart" role="img" aria-label="{}" data-vega-src="{}" style="min-height:{}px"></figure>'
        ).format(label, src, height)
    # JSON inside <script>: escape the characters HTML could act on, so no string can end the element.
    payload = json.dumps(_as_dict(spec)).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(
        '<figure class="chart" role="img" aria-label="{}" style="min-height:{}px">'
        '<script type="application/json" class="vega-spec">{}</script></figure>'
    ).format(label, height, Markup(payload))  # noqa: S704  # escaped above


def to_png(spec: Any, scale: float = 2.0) -> bytes:
    return bytes(vl_convert.vegalite_to_png(_as_dict(spec), scale=scale))


def to_svg(spec: Any) -> str:
    return str(vl_convert.vegalite_to_svg(_as_dict(spec)))


@functools.cache
def vega_embed_bundle() -> str:
    """The vega-embed + Vega-Lite + Vega bundle shipped inside vl-convert-python (built once per process)."""
    return str(vl_convert.javascript_bundle())  # type: ignore[call-arg]  # the snippet is optional at run time
