"""Feedback: every customer signal captured, triaged, linked to features, ranked as demand, and answered."""
