"""One JSON response class: every answer the emulator builds by hand is core's JsonResponse
(orjson), which renders what Starlette's JSONResponse renders, faster."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import JSONResponse

import emulator
from emulator.core.responses import JsonResponse


def test_every_answer_built_by_hand_is_a_json_response_of_core() -> None:
    root = Path(emulator.__file__).parent
    built = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "JSONResponse(" in line and path != root / "core" / "responses.py"
    ]
    assert built == []


def test_it_renders_the_bytes_starlette_renders() -> None:
    content = {"code": 0, "msg": "OK", "data": {"name": "Gerät ✓", "n": [1, 2.5, None, True]}}
    assert JsonResponse(content).body == JSONResponse(content).body
    # Beyond 64 bits orjson refuses: the standard encoder answers instead.
    assert JsonResponse({"n": 2**70}).body == JSONResponse({"n": 2**70}).body
