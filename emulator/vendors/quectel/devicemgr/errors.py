"""Quectel SaaS OpenAPI codes (REAL-CLIENTS.md §3).

devicemgr-createBatch.md's own "Response Status" table holds only Swagger boilerplate
(200/201/401/403/404); the codes below are the generic ones the companion documents list,
transcribed row for row: the device and product tables ("Query Device Details", "Query Device
List Under Product", "Query Product Details"), and the accessKeyLogin table of the OpenAPI
Integration Guide. All of them travel in the body under HTTP 200 (DESIGN.md).
"""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode, ValidationMap


@enum.unique
class SaasError(ErrorCode):
    """Generic codes of the device and product APIs."""

    # Real trigger: a platform failure. Also our answer to an emulator bug.
    SERVICE_EXCEPTION = 50000, "Service exception"
    PARAM_CHECK_ERROR = 50005, "Parameter check error"
    PRODUCT_KEY_EMPTY = 50006, "The productID or ProductKey is empty."
    DEVICE_KEY_EMPTY = 50007, "The deviceID, ProductKey or DeviceKey is empty."
    # Real trigger: a platform outage. Reachable only by fault injection.
    HUB_UNAVAILABLE = 70000, "Hub service unavailable"
    PRODUCT_NOT_FOUND = 70017, "Product does not exist."
    # Real trigger: a product not authorised to the SaaS application. Fault injection only.
    LIMITED_PERMISSION = (
        70089,
        "You have limited permission to operate this project or product or device.",
    )
    DEVICE_NOT_FOUND = 70130, "Non-existent device"


@enum.unique
class SaasAuthError(ErrorCode):
    """Token codes answered by every SaaS API call (the 91xxx rows of the device tables)."""

    TOKEN_MISSING = 91001, "Token does not exist"
    TOKEN_INCORRECT = 91004, "Token incorrect"
    # Real triggers: application permissions, IP allow-list, API packages not enabled.
    # Reachable only by fault injection.
    NO_PERMISSION = 91005, "Doesn't have permission"
    NOT_IN_IP_WHITE_LIST = 91006, "User not in IP white list"
    API_PERMISSION_DISABLED = 91007, "Please enable API permission"


@enum.unique
class SaasTokenError(ErrorCode):
    """accessKeyLogin's "Response Status Code" table (OpenAPI Integration Guide)."""

    SERVICE_EXCEPTION = 50000, "service exception"
    PARAM_CHECK_ERROR = 50005, "param check error"
    HUB_UNAVAILABLE = 70000, "Hub service unavailable"
    # The doc's failure example spells it "didn't exists".
    ACCESS_KEY_NOT_FOUND = 90047, "AccessKey didn't exists"


# (wire field, pydantic error type) -> code. Everything else is 50005.
VALIDATION: ValidationMap = {
    ("productKey", "missing"): SaasError.PRODUCT_KEY_EMPTY,
    ("productKey", "string_too_short"): SaasError.PRODUCT_KEY_EMPTY,
    ("deviceKey", "missing"): SaasError.DEVICE_KEY_EMPTY,
    ("deviceKey", "string_too_short"): SaasError.DEVICE_KEY_EMPTY,
}
