"""The vendor contract (core/vendor.py): the emulator outside ``emulator/vendors/`` derives its
lists from the registered vendors and names none of them; hooks live on each emulator."""

from __future__ import annotations

from pathlib import Path

from emulator.app import build_emulator
from emulator.config import Settings
from emulator.core.vendor import vendors
from tests.vendor_names import ROOT, outside_vendors, pattern

# The bound: one registration point at most; the registration lives in the package.
MAX_MENTIONS = 6
MAX_MODULE_LINES = 600


def _vendor_words() -> list[str]:
    words = {v.name for v in vendors()}
    words |= {w for v in vendors() for w in v.title.split() if len(w) > 3 and w.isalnum()}
    return sorted(words)


def test_no_vendor_is_named_outside_the_vendors_package() -> None:
    found = outside_vendors(pattern(_vendor_words()))
    assert len(found) <= MAX_MENTIONS, "\n".join(f"{p}:{line}: {t}" for p, line, t in found)


def test_the_measure_sees_a_vendor_name() -> None:
    # The measure itself can fail: the vendors' own folder names them.
    enos_connect = ROOT / "vendors"
    names = pattern(_vendor_words())
    assert any(names.search(p.read_text()) for p in enos_connect.rglob("vendor.py"))


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT.parent)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_hooks_are_registered_on_each_emulator(tmp_path: Path) -> None:
    first = build_emulator(Settings(db=":memory:"))
    second = build_emulator(Settings(db=":memory:"))
    try:
        assert first.hooks.on_online, "no device-online hook registered"
        assert first.hooks.on_online == second.hooks.on_online
        assert first.hooks.on_online is not second.hooks.on_online
    finally:
        first.dispose()
        second.dispose()
