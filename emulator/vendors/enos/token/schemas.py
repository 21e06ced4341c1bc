"""Bodies of the EnOS token service."""

from __future__ import annotations

from pydantic import Field, field_validator

from emulator.vendors.enos.envelope import EnosModel


class TokenGetRequest(EnosModel):
    app_key: str = Field(min_length=1)
    encryption: str = Field(min_length=1)
    # Clients send the timestamp as a number or as a string (the Go and Arduino clients).
    timestamp: str = Field(min_length=1)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp_as_sent(cls, value: object) -> object:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return str(value)
        return value


class TokenRefreshRequest(TokenGetRequest):
    access_token: str = Field(min_length=1)


class TokenData(EnosModel):
    access_token: str
    expire: int


class TokenResponse(EnosModel):
    """The token service answers ``status``, not ``code`` (zh docs misspell it ``stauts``)."""

    status: int = 0
    msg: str = "SUCCESS"
    business: str = "apim-token-service"
    data: TokenData | None = None
