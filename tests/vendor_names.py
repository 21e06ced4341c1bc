"""How often the code outside ``emulator/vendors/`` names a vendor: identifiers, imports and
string literals that contain a registered vendor's name (or its title's words), docstrings
aside. ``python -m tests.vendor_names`` prints each mention; the contract test bounds it."""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "emulator"
VENDORS_DIR = ROOT / "vendors"


def _docstrings(tree: ast.AST) -> set[tuple[int, int]]:
    """Start positions of the module, class and function docstrings."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                out.add((body[0].lineno, body[0].col_offset))
    return out


def pattern(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in sorted(set(words))), re.IGNORECASE)


def mentions(path: Path, names: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    """(line, token) of every identifier or non-docstring string literal naming a vendor."""
    source = path.read_text(encoding="utf-8")
    docstrings = _docstrings(ast.parse(source))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME or (
            token.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1))
            and token.start not in docstrings
        ):
            if names.search(token.string):
                yield token.start[0], token.string


def outside_vendors(names: re.Pattern[str]) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if VENDORS_DIR in path.parents:
            continue
        for line, token in mentions(path, names):
            found.append((str(path.relative_to(ROOT.parent)), line, token))
    return found


def main(words: list[str]) -> None:
    found = outside_vendors(pattern(words))
    for path, line, token in found:
        sys.stdout.write(f"{path}:{line}: {token[:70]}\n")
    sys.stdout.write(f"{len(found)} mentions of {', '.join(words)} outside emulator/vendors/\n")


if __name__ == "__main__":
    main(sys.argv[1:] or ["quectel", "enos", "mcs", "mediatek"])
