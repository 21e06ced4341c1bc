"""Envision EnOS: the connection service (create device) and device provisioning (DPS)."""

from emulator.core.masking import Credentials

# What the journal masks (core/masking.py), beyond names that say token, secret, password.
CREDENTIALS = Credentials(
    headers=frozenset({"apim-accesstoken", "apim-signature"}),
    # The token service: ``encryption`` is SHA-256 of appKey, timestamp and secret (a
    # password for that timestamp); ``accessToken`` is sent back to be refreshed.
    fields=frozenset({"encryption", "accessToken"}),
    answer=frozenset({"accessToken", "deviceSecret", "deviceSecrete"}),
)
