"""Outgoing notifications: e-mail over SMTP and signed webhooks."""
