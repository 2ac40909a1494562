"""`POST /api/tokens`: a fresh token for one destination."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TokenRequest", "TokenResponse"]


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destination: str = Field(min_length=1, max_length=253)


class TokenResponse(BaseModel):
    token: str
    expires: datetime
