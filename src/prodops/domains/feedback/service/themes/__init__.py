"""Themes: unsupervised clustering of feedback into named groups that people can rename, merge and split.

- :func:`recluster` (a nightly job, and on demand) clusters the stored embeddings and matches the new clusters to
  the existing themes, so ids, names, merges and splits people made survive;
- :func:`assign` puts new items into the existing themes as they are analysed (it never waits for a re-clustering);
- :func:`rename`, :func:`merge`, :func:`split` are the edits people make;
- :func:`check_emerging` finds themes growing significantly this week and notifies the admins once a week.

The maths lives in :mod:`.clustering` (no database), the key phrases in ``platform/text/phrases``, the reads in
``queries/themes.py``.
"""

from prodops.domains.feedback.service.themes.edits import ENTITY, members_of, merge, rename, split, theme_counts
from prodops.domains.feedback.service.themes.emerging import check_emerging
from prodops.domains.feedback.service.themes.events import THEME_CHANGED, THEME_EMERGING, THEMES_RECLUSTERED
from prodops.domains.feedback.service.themes.incremental import assign
from prodops.domains.feedback.service.themes.recluster import FIRST_THEMES_AT, first_themes_due, recluster
from prodops.domains.feedback.service.themes.schemas import ReclusterResult, ThemeMerge, ThemeRename, ThemeSplit

__all__ = [
    "ENTITY",
    "FIRST_THEMES_AT",
    "THEMES_RECLUSTERED",
    "THEME_CHANGED",
    "THEME_EMERGING",
    "ReclusterResult",
    "ThemeMerge",
    "ThemeRename",
    "ThemeSplit",
    "assign",
    "check_emerging",
    "first_themes_due",
    "members_of",
    "merge",
    "recluster",
    "rename",
    "split",
    "theme_counts",
]
