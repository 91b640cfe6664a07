"""Connectors that ship with the hub, registered through the ``hub`` entry-point group exactly
like third-party plugins (see ``pyproject.toml``)."""
