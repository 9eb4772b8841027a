"""Customers: accounts (companies), the people in them, and saved segments every other domain reuses."""
