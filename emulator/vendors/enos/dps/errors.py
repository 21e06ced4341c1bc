"""EnOS DPS codes: the error table of enos-dps-allocate.md row for row, then the codes its
companions document (REAL-CLIENTS.md §1.7). A code has one message here; the companions'
own wording for the same code ("Group not found", "DeviceSn duplicated") travels with the
error where it is raised."""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode, ValidationMap


@enum.unique
class DpsError(ErrorCode):
    # enos-dps-allocate.md
    ORG_OR_SN_REQUIRED = 35400, "OrgId/sn is required"
    GROUP_NOT_FOUND = 35404, "Group/Device group not found"
    SN_NOT_FOUND = 35601, "Verify not pass/sn not found"
    # resetAllocationStatus: the service account lacks a DPS role. The emulator has no roles,
    # so only a fault produces it.
    UNAUTHORIZED = 35603, "Unauthorized to access the resource"
    # EnOS generic code for an invalid argument (DESIGN.md: validation errors not in the doc).
    INVALID_ARGUMENT = 99400, "Invalid Argument"
    # Not in the doc: an unexpected emulator error, in the EnOS envelope.
    EMULATOR_INTERNAL_ERROR = 99500, "Internal Server Error"


# A missing or blank sn is the doc's 35400, whichever action carries it in its body.
VALIDATION: ValidationMap = {
    ("sn", "missing"): DpsError.ORG_OR_SN_REQUIRED,
    ("sn", "string_too_short"): DpsError.ORG_OR_SN_REQUIRED,
}
