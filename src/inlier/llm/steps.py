"""Split a model's answer into the steps an expert judges one by one.

The rules, first that applies:

1. **"Step N" markers**: lines starting with ``Step 1``, ``Step 2``, … (any case, optionally in
   bold or as a markdown heading, followed by ``:``, ``.``, ``)`` or ``-``).
2. **A numbered list**: lines starting with ``1.`` / ``1)``, ``2.`` / ``2)``, …
3. **Paragraphs**: blocks separated by blank lines.
4. **Lines**: a single paragraph is split into its non-blank lines.

Markers count only in sequence and at the first one's indentation: the first must be 1 and
each next one the number after the last, no deeper indented than the first, so a nested list,
or a "3." quoted inside a step, stays part of its step; rules 1 and 2 need at least two
markers. Markers are removed from the steps. Nothing the model
wrote is dropped: text before the first marker is a step of its own, text after a marker up to
the next one (blank lines included) belongs to that step. Steps are stripped; empty ones are
left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# "Step 3:", "**Step 3:**", "**Step 3**:", "### Step 3." — the marker and its punctuation. A
# closing "**" is part of the marker only when it opened it: "Step 1: **Check** x" keeps its bold.
_STEP = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?P<bold>\*\*|__)?step[ \t]+(?P<n>\d{1,4})\b[ \t]*"
    r"(?(bold)(?:[:.)\-][ \t]*)?(?:(?:\*\*|__)[ \t]*[:.)\-]?)?|[:.)\-]?)[ \t]*",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^[ \t]*(?P<n>\d{1,4})[.)](?:[ \t]+|$)")
_BLANK = re.compile(r"\n[ \t]*\n")


def split_steps(text: str) -> list[str]:
    """The steps of ``text`` (see the module's docstring for the rules)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for marker in (_STEP, _NUMBERED):
        steps = _by_markers(text, marker)
        if steps is not None:
            return steps
    paragraphs = _clean(_BLANK.split(text))
    if len(paragraphs) > 1:
        return paragraphs
    return _clean(text.split("\n"))


def _by_markers(text: str, marker: re.Pattern[str]) -> list[str] | None:
    """Steps cut at sequential markers, or ``None`` when there are fewer than two."""
    chunks: list[list[str]] = [[]]  # chunks[0] is whatever comes before the first marker
    expected = 1
    indent: int | None = None  # of the first marker: deeper ones belong to a nested list
    for line in text.split("\n"):
        m = marker.match(line)
        depth = len(line) - len(line.lstrip(" \t"))
        if m is not None and int(m.group("n")) == expected and (indent is None or depth <= indent):
            indent = depth if indent is None else indent
            expected += 1
            chunks.append([_after_marker(line, m)])
        else:
            chunks[-1].append(line)
    if expected <= 2:
        return None
    return _clean("\n".join(chunk) for chunk in chunks)


def _after_marker(line: str, m: re.Match[str]) -> str:
    """The line's text after its marker; "**Step 1: Check.**" closes its bold at the end."""
    rest = line[m.end() :]
    bold = m.groupdict().get("bold")
    if bold and m.group(0).count(bold) == 1 and rest.rstrip().endswith(bold):
        rest = rest.rstrip()[: -len(bold)]
    return rest


def _clean(parts: Iterable[str]) -> list[str]:
    return [p.strip() for p in parts if p.strip()]
