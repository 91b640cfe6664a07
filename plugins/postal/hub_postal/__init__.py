"""Outgoing correspondence via the postal and courier contractor (skeleton until its issue)."""
