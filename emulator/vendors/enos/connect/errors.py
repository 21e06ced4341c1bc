"""EnOS connection-service codes: enos-connect-create-device.md, with the messages of the real
platform (REAL-CLIENTS.md §1.6) and the companions' 11404 (§1.7)."""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode, ValidationMap


@enum.unique
class ConnectError(ErrorCode):
    DEVICE_KEY_EXISTS = 11702, "DeviceKey existed"
    # Real trigger: the platform fails to generate a key. Reachable only by fault injection.
    DEVICE_KEY_GENERATION_FAILED = 11714, "Generate deviceKey failed"
    DEVICE_QUOTA_EXCEEDED = 11739, "Exceed max device size"
    DEVICE_NOT_FOUND = 11404, "Device cannot be found"
    # EnOS generic code for an invalid argument (DESIGN.md: validation errors not in the doc).
    INVALID_ARGUMENT = 99400, "Invalid Argument"
    # Not in the doc: an unexpected emulator error, in the EnOS envelope.
    EMULATOR_INTERNAL_ERROR = 99500, "Internal Server Error"


VALIDATION: ValidationMap = {}
