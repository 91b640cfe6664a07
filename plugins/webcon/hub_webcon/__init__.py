"""WEBCON BPS connector: registration and status sync — skeleton until its issue lands."""
