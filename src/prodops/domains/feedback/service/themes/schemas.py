"""What the theme use cases take and give back (the read shapes live in ``queries/themes.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_PARTS = 5


class ThemeRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(
        default=None, max_length=200, description="The new name; empty goes back to the generated label."
    )

    @field_validator("label", mode="before")
    @classmethod
    def _clean(cls, v: Any) -> Any:
        if isinstance(v, str):
            return " ".join(v.split()) or None
        return v


class ThemeMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into_id: int = Field(description="The theme that keeps the items (the survivor).")


class ThemeSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: int = Field(default=2, ge=2, le=MAX_PARTS, description="How many themes to split into (2–5).")


class ReclusterResult(BaseModel):
    """What a re-clustering did."""

    items: int = 0
    """Analysed items looked at (archived ones included: they keep counting in trends)."""
    clustered: int = 0
    """Items now in a theme."""
    themes: int = 0
    """Themes with items after the run."""
    created: int = 0
    kept: int = 0
    """Existing themes that matched a new cluster (their ids, names and alert state kept)."""
    removed: int = 0
    """Themes nobody edited that matched nothing and were deleted."""
    emptied: int = 0
    """Edited themes left without items (kept, and shown as empty)."""
    fitted: int = 0
    """Clusters found in the sample."""
    chosen_by: str = ""
    seconds: float = 0.0
    skipped: str = ""
    """Why nothing was done (empty when it ran)."""

    def summary(self) -> str:
        if self.skipped:
            return f"Themes were not re-clustered: {self.skipped}."
        return (
            f"{self.clustered:,} of {self.items:,} items in {self.themes} themes "
            f"({self.created} new, {self.kept} kept, {self.removed} removed"
            + (f", {self.emptied} edited themes now empty" if self.emptied else "")
            + f") in {self.seconds:.1f} s."
        )
