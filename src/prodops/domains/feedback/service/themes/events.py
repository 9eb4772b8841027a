"""The events theme use cases emit (webhooks can subscribe to them)."""

from prodops.platform import events

THEME_EMERGING = events.declare(
    "feedback.theme.emerging",
    "A feedback theme grew significantly this week against its baseline (sent once per theme and ISO week).",
)
THEME_CHANGED = events.declare(
    "feedback.theme.changed", "A person renamed, merged or split a feedback theme (payload: action and theme ids)."
)
THEMES_RECLUSTERED = events.declare(
    "feedback.themes.reclustered", "Feedback was re-clustered into themes (counts of what changed)."
)
