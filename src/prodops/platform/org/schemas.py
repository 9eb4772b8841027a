"""Products and teams API shapes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="Short lowercase identifier, e.g. `mobile`.")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    name: str
    description: str


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    product_id: int | None = None
    member_ids: list[int] = Field(default_factory=list)


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    name: str
    description: str
    product_id: int | None
    member_ids: list[int]
