"""Quectel: the Developer Center SaaS OpenAPI (device manager) and the end-user App OpenAPI."""

from emulator.core.masking import Credentials

# What the journal masks (core/masking.py), beyond names that say token, secret, password.
CREDENTIALS = Credentials(
    # emailPwdLogin: ``random`` is the AES key of the encrypted ``pwd`` (with it, the password
    # decrypts); ``signature`` signs them with the user domain's secret.
    fields=frozenset({"pwd", "random", "signature", "password", "refreshToken", "refresh_token"}),
)
