"""Feedback reads: items and links (items.py), the inbox list (inbox.py), demand (demand.py)."""
