"""Codes of EnOS Invoke Service and Set Measurement Point.

The API pages point to EnOS's common error-code list without naming the codes for an offline
device or a command timeout; see the README ("EnOS devices over MQTT") for which are
confirmed. 11404 and 99400 are the connection service's own (connect/errors.py).
"""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode, ValidationMap


@enum.unique
class CommandError(ErrorCode):
    DEVICE_NOT_FOUND = 11404, "Device cannot be found"
    # Enable Device documents 11721 for a device in the wrong state ("Device is offline");
    # that Invoke Service answers the same for an instant command to an offline device is
    # our reading (unconfirmed).
    DEVICE_OFFLINE = 11721, "Device is offline"
    # Unconfirmed: the documented behaviour ("returns the timeout response after waiting the
    # timeout"), with a code of ours.
    COMMAND_TIMEOUT = 99408, "Service invocation timed out"
    # Unconfirmed: the device answered with a code other than 200.
    DEVICE_REPLIED_ERROR = 99409, "Device replied with an error"
    INVALID_ARGUMENT = 99400, "Invalid Argument"
    EMULATOR_INTERNAL_ERROR = 99500, "Internal Server Error"


VALIDATION: ValidationMap = {}
