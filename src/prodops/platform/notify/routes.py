"""Webhook subscriptions and their delivery log (administrators)."""

from __future__ import annotations

from fastapi import APIRouter

from prodops.platform import registry

router = registry.router(APIRouter())
