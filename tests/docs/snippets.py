"""The shell snippets of the README and of the documentation site, read from their Markdown.

A snippet is a fenced block whose language is ``sh``. The line before its fence may hold one
marker (an HTML comment, invisible once rendered):

- ``<!-- snippet: server -->``: the block starts an emulator; it runs in the background before
  the page's other snippets, and they wait until it answers its health check;
- ``<!-- snippet: skip (reason) -->``: the block cannot run here (Docker, the suite itself, a
  benchmark of minutes); the reason is required;
- ``<!-- snippet: expect 11714, 401 -->``: the block's answers may carry these vendor codes or
  HTTP statuses besides a success, and each of them must come (an example of an error).

Every other ``sh`` block runs, in page order, in one shell, against a live emulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The fence languages the pages may use; only ``sh`` blocks are run.
SHELL = "sh"
OTHER_LANGUAGES = frozenset({"", "python", "yaml", "json", "text"})

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<spec>.*?)\s*-->\s*$")
_SKIP = re.compile(r"^skip\s+\((?P<reason>.+)\)$")
_EXPECT = re.compile(r"^expect\s+(?P<codes>\d+(\s*,\s*\d+)*)$")


class SnippetError(ValueError):
    """A page whose snippets cannot be read: an unknown marker or fence language."""


@dataclass(frozen=True)
class Snippet:
    where: str  # page:line of the opening fence
    body: str
    kind: str = "run"  # "run", "server" or "skip"
    reason: str = ""
    expect: frozenset[int] = field(default_factory=frozenset)


def pages() -> list[Path]:
    """The README and every page of the documentation site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def read(page: Path, root: Path = ROOT) -> list[Snippet]:
    """The ``sh`` snippets of one page, in order, with their markers."""
    lines = page.read_text(encoding="utf-8").splitlines()
    snippets: list[Snippet] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        indent, lang = fence["indent"], fence["lang"]
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][len(indent) :] if lines[index].startswith(indent) else "")
            index += 1
        index += 1  # the closing fence
        where = f"{page.relative_to(root)}:{start + 1}"
        if lang != SHELL:
            if lang not in OTHER_LANGUAGES:
                raise SnippetError(f"{where}: fence language {lang!r}: use sh for shell snippets")
            continue
        marker = _marker(lines, start, where)
        kind, reason, expect = marker
        snippets.append(Snippet(where, "\n".join(body) + "\n", kind, reason, expect))
    return snippets


def _marker(lines: list[str], fence: int, where: str) -> tuple[str, str, frozenset[int]]:
    """The marker on the line before a fence (blank lines between are allowed)."""
    previous = fence - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    match = _MARKER.match(lines[previous]) if previous >= 0 else None
    if match is None:
        return "run", "", frozenset()
    spec = match["spec"]
    if spec == "server":
        return "server", "", frozenset()
    if skip := _SKIP.match(spec):
        return "skip", skip["reason"].strip(), frozenset()
    if expect := _EXPECT.match(spec):
        return "run", "", frozenset(int(code) for code in expect["codes"].split(","))
    raise SnippetError(
        f"{where}: unknown snippet marker {spec!r} (server, skip (reason), expect CODE[, CODE])"
    )
