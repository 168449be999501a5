"""Markdown from anyone → sanitized HTML, with ``$…$`` / ``$$…$$`` math as server-side MathML.

Everything a person typed (guidelines, items, answers, posts) goes through ``render``: the
markdown is rendered with raw HTML disabled, math is converted to MathML on the server (no
script runs in the page to typeset it), code blocks are highlighted, and the result is cleaned
by an allow-list sanitizer, so nothing that reaches a page can carry a script or a handler.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

MATHML_TAGS = {
    "math", "maction", "annotation", "semantics", "menclose", "merror", "mfenced", "mfrac",
    "mi", "mmultiscripts", "mn", "mo", "mover", "mpadded", "mphantom", "mprescripts", "mroot",
    "mrow", "ms", "mspace", "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd",
    "mtext", "mtr", "munder", "munderover", "none",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "math": {"display", "xmlns"},
    "mo": {
        "stretchy",
        "fence",
        "separator",
        "lspace",
        "rspace",
        "form",
        "largeop",
        "movablelimits",
    },
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mi": {"mathvariant"},
    "mn": {"mathvariant"},
    "mtext": {"mathvariant"},
    "mspace": {"width", "height", "depth"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"},
    "mtable": {"columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines"},
    "mtd": {"columnalign", "rowalign", "columnspan", "rowspan"},
    "menclose": {"notation"},
    "mfrac": {"linethickness"},
    "munderover": {"accent", "accentunder"},
    "mover": {"accent"},
    "munder": {"accentunder"},
}
_TAGS = set(nh3.ALLOWED_TAGS) | MATHML_TAGS
_ATTRIBUTES: dict[str, set[str]] = {
    **{k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()},
    **MATHML_ATTRIBUTES,
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "td": {"align"},
    "th": {"align"},
}
_CODE_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")


def _math(content: str, options: dict[str, Any]) -> str:
    display = "block" if options.get("display_mode") else "inline"
    try:
        return latex_to_mathml(content, display=display)
    except Exception:
        # Malformed TeX shows as the source the person typed rather than failing the page.
        return f'<code class="math-error">{html.escape(content)}</code>'


def highlight(code: str, language: str | None) -> str:
    """HTML for a block of code, coloured by CSS classes (``hl-*``) when the language is known."""
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        return html.escape(code)
    return str(pygments_highlight(code, lexer, _CODE_FORMATTER))


def _fence_highlight(code: str, language: str, _attrs: str) -> str:
    return highlight(code, language.strip() or None)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _fence_highlight})
    md.enable("table").enable("strikethrough")
    dollarmath_plugin(md, allow_digits=False, double_inline=True, renderer=_math)
    return md


def clean(fragment: str) -> str:
    """Sanitize an HTML fragment with the allow-list every rendered page uses."""
    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def render(text: str) -> str:
    """Sanitized HTML for a markdown text."""
    if not text:
        return ""
    return clean(_parser().render(text))
