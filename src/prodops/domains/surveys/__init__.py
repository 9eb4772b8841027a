"""Surveys and NPS: survey design, distribution in waves, responses, scoring with confidence intervals, and follow-up rules."""
