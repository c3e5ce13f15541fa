"""Standalone HTML pages from the templates in templates/ (Jinja2, autoescaped), written whole.

The pages are single offline files: their styles are inline and nothing is fetched. Each
carries print rules for "Save as PDF" in a browser (templates/_page.html).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from pipeline.files import atomic_write_bytes

__all__ = ["render_page", "write_text"]

_TEMPLATES = Path(__file__).parent / "templates"


def _css_string(text: str) -> Markup:
    """`text` to go between double quotes in CSS: letters, digits and a few marks as they are,
    anything else as a CSS escape, so nothing can end the string or the <style>."""
    return Markup("".join(c if c.isalnum() or c in " -:,." else f"\\{ord(c):x} " for c in text))


def template_environment(folder: Path) -> jinja2.Environment:
    """callqa's Jinja2 settings for the templates in `folder`: autoescaped, strict, never reloaded
    (the templates ship with the package, so no stat() per page)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )


@cache
def _environment() -> jinja2.Environment:
    env = template_environment(_TEMPLATES)
    env.filters["css_string"] = _css_string
    return env


def render_page(template: str, **context: object) -> str:
    """templates/`template` rendered with `context` (every value escaped unless `Markup`)."""
    return _environment().get_template(template).render(**context)


def write_text(path: Path, text: str) -> None:
    """Write `path` whole or not at all."""
    atomic_write_bytes(path, text.encode("utf-8"))
