"""What an error table's completeness test compares with: the codes the test cases of a module
reach, read from the cases themselves (tests are named after the documented behaviour:
``test_allocate_with_unknown_sn_returns_35601``), so deleting a case fails the table's test.

A code counts when a test function's name, or one of its test class's method names, has it as
a word (``_35601`` at the end or followed by ``_``), or when a parametrized case gives it as
its ``expected`` or ``code`` argument.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_CODE = re.compile(r"_(\d{3,6})(?=_|$)")


_CODE_ARGUMENTS = ("expected", "code")


def _tests(namespace: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            found.append((name, value))
        elif name.startswith("Test") and isinstance(value, type):
            found += [(n, f) for n, f in vars(value).items() if n.startswith("test_")]
    return found


def _parametrized_codes(test: Any) -> set[int]:
    codes = set()
    for mark in getattr(test, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        for case in mark.args[1]:
            values = getattr(case, "values", case)
            values = values if len(names) > 1 else (values,)
            for name, value in zip(names, values, strict=False):
                if name in _CODE_ARGUMENTS and isinstance(value, int):
                    codes.add(value)
    return codes


def reached_codes(namespace: Mapping[str, Any]) -> set[int]:
    """The codes the tests of a module reach (pass its ``globals()``)."""
    codes = set()
    for name, test in _tests(namespace):
        codes |= {int(code) for code in _CODE.findall(name)}
        codes |= _parametrized_codes(test)
    return codes
