"""Rendering self-contained, safe pages: one jinja environment with autoescape on,
data for scripts embedded as inert JSON, and a Content-Security-Policy that allows
only the page's own script (by hash) and forbids every network request.

What the pages display is untrusted (model output, app logs, test names), so:

- markup comes from templates, where autoescape escapes every value;
- data for the script goes in `<script type="application/json">` with `<`, `>` and
  `&` written as `\\u003c`, `\\u003e`, `\\u0026`, so no text inside can close the
  element; the script reads it with `JSON.parse` and writes it with `textContent`;
- the CSP is belt and braces: a script that slipped through would be refused (and
  the browser test, which fails on any console error, would see the refusal).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from typing import Any, SupportsFloat

from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from markupsafe import Markup

_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_for_script(data: Any) -> Markup:
    """JSON safe to place inside a `<script type="application/json">` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _SCRIPT_ESCAPES.items():
        text = text.replace(raw, escaped)
    return Markup(text)


def script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def content_security_policy(script: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src '{script_hash(script)}'; "
        "style-src 'unsafe-inline'; "
        "img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def as_float(value: object) -> float | None:
    """A number, or None for missing (None, NaN, undefined, not a number)."""
    if isinstance(value, bool | Undefined) or not isinstance(value, int | float | SupportsFloat):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _missing(value: object) -> bool:
    return (
        value is None
        or isinstance(value, Undefined)
        or (isinstance(value, float) and math.isnan(value))
    )


def format_score(value: object) -> str:
    number = as_float(value)
    return "–" if number is None else f"{number:.2f}"


def format_number(value: object, digits: int = 0) -> str:
    number = as_float(value)
    return "–" if number is None else f"{number:,.{digits}f}"


def format_usd(value: object) -> str:
    number = as_float(value)
    if number is None:
        return "–"
    return f"${number:,.4f}" if number < 1 else f"${number:,.2f}"


def sort_value(value: object) -> str:
    """The `data-v` attribute the table sorter reads: a number, or empty for missing."""
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    number = as_float(value)
    return repr(number) if number is not None else str(value)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = format_score
    env.filters["number"] = format_number
    env.filters["usd"] = format_usd
    env.filters["sortv"] = sort_value
    env.filters["json_for_script"] = json_for_script
    env.tests["missing"] = _missing
    return env


def render_page(template: str, **context: Any) -> str:
    """Render a page template; its script is rendered first so the CSP can name its
    hash."""
    env = environment()
    script = env.get_template("page.js.j2").render()
    css = env.get_template("page.css.j2").render()
    return env.get_template(template).render(
        script=Markup(script),
        css=Markup(css),
        csp=content_security_policy(script),
        **context,
    )
