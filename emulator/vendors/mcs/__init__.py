"""MediaTek Cloud Sandbox (MCS) v2: registerDevice (mcs-registerDevice.md), its OAuth user
token service and the device companions get and deregister (REAL-CLIENTS.md §5)."""

from emulator.core.masking import Credentials

# What the journal masks (core/masking.py), beyond names that say token, secret, password.
CREDENTIALS = Credentials(
    # A device's key is its secret here (mcs-registerDevice.md: the device signs in with it),
    # sent back by registerDevice and, by the device APIs, in a deviceKey header.
    headers=frozenset({"deviceKey"}),
    answer=frozenset({"deviceKey"}),
    # The OAuth forms: the login's password, the refresh form's token.
    fields=frozenset({"password", "token", "deviceKey"}),
)
