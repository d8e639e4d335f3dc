"""Self-contained HTML pages (the evaluation and QAI reports): one file, no server, no remote loads.

Every page is rendered by jinja2 with autoescaping on, so questions, options, model outputs, file names and
errors from the data stay text. Data for the page's script travels as JSON in a
`<script type="application/json">` block, escaped so that no string can close it. The page carries a
Content-Security-Policy that lets only its own inline style and script run (by SHA-256 hash) and loads
images only from `data:` URIs: an injected `<script>` or `onerror=` handler is inert even if escaping were
ever missed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import require
from .outputs import atomic_write_text

# Characters that could end a <script> block or start an HTML comment/CDATA inside it, and the two line
# separators JavaScript string literals did not accept before ES2019.
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_ESCAPE_TABLE = str.maketrans(_SCRIPT_ESCAPES)


def json_for_script(obj: Any) -> str:
    """`obj` as JSON safe to place verbatim inside `<script type="application/json">…</script>`.

    `JSON.parse` reads the escapes back to the original characters.
    """
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_ESCAPE_TABLE)


def _asset(name: str) -> str:
    return resources.files("twgrpo_data").joinpath("templates", name).read_text(encoding="utf-8")


@functools.cache
def environment():
    """The jinja2 environment of the report templates (autoescape on for every template)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("twgrpo_data", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = format_pct
    return env


def format_pct(value: float | None, digits: int = 1) -> str:
    """A ×100 metric as text, '–' when missing."""
    return "–" if value is None else f"{value:.{digits}f}"


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(style: str, script: str) -> str:
    """Only this inline style and script (by hash), images from data: URIs, nothing remote, no forms."""
    return (
        "default-src 'none'; "
        f"style-src {_sha256(style)}; script-src {_sha256(script)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def render_page(template: str, **context: Any) -> str:
    """Render `template` (which extends `base.html.j2`) with the shared style, script and CSP."""
    style, script = _asset("page.css"), _asset("page.js")
    return (
        environment()
        .get_template(template)
        .render(page_style=style, page_script=script, csp=content_security_policy(style, script), **context)
    )


def write_page(path: str | Path, html: str) -> Path:
    """Write a page atomically; returns its path."""
    target = Path(path)
    atomic_write_text(target, html)
    return target


def jpeg_data_uri(frame: Any, *, height: int = 90, quality: int = 70) -> str:
    """An (H, W, 3) uint8 frame as a small JPEG `data:` URI, `height` pixels high."""
    image = require("PIL.Image", "video")
    img = image.fromarray(frame)
    if img.height > height:
        img = img.resize((max(1, round(img.width * height / img.height)), height), image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
