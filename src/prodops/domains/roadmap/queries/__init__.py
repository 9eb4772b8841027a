"""Roadmap reads (never commit): goals and their progress, initiatives, feature plans, the alignment report and
the roadmap views."""
