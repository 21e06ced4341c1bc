"""Bodies of the MCS OAuth service (form or JSON on the wire)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LoginRequest(BaseModel):
    email: str = Field(min_length=1)
    password: str = Field(min_length=1)


class RefreshRequest(BaseModel):
    token: str = Field(min_length=1)


class _Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    api_version: str = Field(default="0.0.1", alias="apiVersion")
    code: int = 200
    message: str = "Request has succeeded"


class LoginResponse(_Answer):
    """Get User Token: the user token (two weeks) and the access token (one hour)."""

    token: str
    access_token: str


class RefreshResults(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    access_token: str
    token: str
    user_image_url: str = Field(alias="userImageURL")
    timezone: str
    email: str
    nickname: str
    language: str
    plan: dict[str, Any]


class RefreshResponse(_Answer):
    """Refresh User Access Token: a new access token for a live user token."""

    results: RefreshResults
