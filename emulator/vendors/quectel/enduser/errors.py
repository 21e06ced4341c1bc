"""Quectel end-user codes, one table per operation, transcribed row for row from the docs.

``BatchControlError``: enduser-batchControlDevice.md "Response Status". ``LoginError``: the
emailPwdLogin page (REAL-CLIENTS.md §4). ``DeviceListError``: the userDeviceList page. Every
code travels in the body under HTTP 200 (DESIGN.md). ``GenericError`` holds Quectel's generic
codes (REAL-CLIENTS.md §3), used where the docs name no code: a body that is not JSON, a value
of the wrong JSON type, a ``qos`` out of range.
"""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode


@enum.unique
class BatchControlError(ErrorCode):
    TOKEN_VERIFICATION_FAILED = 5032, "Token verification failed"
    NO_PERMISSION = 5041, "No permission"
    TYPE_MISSING = 5070, "Please enter type"
    TYPE_INVALID = 5071, "Type error, types are 1: Passthrough 2: Property 3: Service"
    DATA_FORMAT_MISSING = 5072, "Please enter data type"
    DATA_FORMAT_INVALID = (
        5073,
        "Data type error, data types are 1: Hex 2: Text "
        "(when type is passthrough, dataFormat must be specified)",
    )
    DATA_MISSING = 5074, "Please enter device control command"
    DATA_TOO_LONG = 5075, "Device control command length cannot exceed 4096"
    TOKEN_MISSING = 5106, "Please enter token"
    DEVICE_LIST_MISSING = 5311, "Please enter device list"
    DEVICE_LIST_TOO_LONG = 5312, "Total number of devices in list exceeds range"
    CACHE_TIME_MISSING = 5328, "Please enter cache time"
    CACHE_TIME_OUT_OF_RANGE = 5329, "Cache time out of range"
    IS_CACHE_OUT_OF_RANGE = 5330, "Whether to enable cache is out of range"
    IS_COVER_OUT_OF_RANGE = (
        5331,
        "Whether to overwrite previously sent identical commands is out of range",
    )
    # No real input makes a whole batch fail: reachable only by fault injection.
    BATCH_CONTROL_FAILED = 5340, "Batch control devices failed"


@enum.unique
class LoginError(ErrorCode):
    USER_DOMAIN_FORMAT = 5013, "Incorrect user domain format"
    USER_DOMAIN_NOT_FOUND = 5015, "User domain does not exist"
    PASSWORD_MISSING = 5022, "Please enter password"
    USER_DOMAIN_MISSING = 5023, "Please enter user domain"
    EMAIL_MISSING = 5026, "Please enter email"
    EMAIL_NOT_REGISTERED = 5031, "Email not registered"
    EMAIL_FORMAT = 5040, "Incorrect email format"
    PASSWORD_FORMAT = (
        5056,
        "Incorrect password format, please enter 6-20 letters, numbers or special characters",
    )
    # Fault-only: fixtures have no way to disable a user domain.
    USER_DOMAIN_DISABLED = 5104, "User domain disabled"
    ACCOUNT_FROZEN = 5147, "Account frozen, please try again after 20 minutes"
    # Fault-only: the platform's risk control has no emulated trigger.
    NETWORK_BLOCKED = (
        5325,
        "Due to abnormal behavior in your current network access, there may be security "
        "risks. We have temporarily blocked your access, which will be automatically lifted "
        "after 24 hours",
    )
    SIGNATURE_INVALID = 5420, "Signature verification failed"
    SIGNATURE_MISSING = 5550, "Please enter signature"
    WRONG_PASSWORD_1_LEFT = 5583, "Incorrect email or password, you have 1 more attempt"
    WRONG_PASSWORD_2_LEFT = 5584, "Incorrect email or password, you have 2 more attempts"
    WRONG_PASSWORD_3_LEFT = 5585, "Incorrect email or password, you have 3 more attempts"
    WRONG_PASSWORD_4_LEFT = 5586, "Incorrect email or password, you have 4 more attempts"
    # Fault-only: the emulator is a single data center that serves every MCC.
    MCC_OTHER_DATA_CENTER = 6084, "MCC does not belong to current data center"
    MCC_QUERY_FAILED = 6085, "Failed to query MCC data center"


@enum.unique
class DeviceListError(ErrorCode):
    TOKEN_VERIFICATION_FAILED = 5032, "Token verification failed"
    # Fault-only: tokens are bound to one user, there is no other identity to mismatch.
    USER_MISMATCH = 5047, "User authentication mismatch"
    TOKEN_MISSING = 5106, "Please enter token"
    DEVICE_NAME_TOO_LONG = 5333, "Device name exceeds length limit"


@enum.unique
class GenericError(ErrorCode):
    # Not in the end-user docs: Quectel's generic codes (REAL-CLIENTS.md §3).
    SERVICE_EXCEPTION = 50000, "Service exception"
    PARAM_CHECK_ERROR = 50005, "Param check error"


@enum.unique
class TokenError(ErrorCode):
    """What the token layer answers for every end-user API (and refreshToken): the rows the
    operation tables share (REAL-CLIENTS.md §4: clients log in again on 5032)."""

    TOKEN_VERIFICATION_FAILED = 5032, "Token verification failed"
    TOKEN_MISSING = 5106, "Please enter token"
