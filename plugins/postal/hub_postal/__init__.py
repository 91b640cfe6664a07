"""Outgoing correspondence through the postal and courier contractor — skeleton until its issue lands."""
