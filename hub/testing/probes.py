"""What the kit looks for: secrets in settings, leaks in text, and log lines of every kind.

Leak reports name *what* leaked (``secret endpoints.dj.secret``, ``sender cnp``), never the value,
so a failing test does not print the very data it protects.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
import structlog.testing
from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = [
    "capture_structlog",
    "find_leaks",
    "models_allowing_extra",
    "plain_secret_fields",
    "secret_values",
    "undocumented_fields",
]

#: Field names that hold a credential; such a field must be typed SecretStr.
SECRET_NAME = re.compile(r"secret|password|passwd|token|api_?key|private_?key|credential", re.I)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def secret_values(settings: BaseModel) -> dict[str, str]:
    """Setting path → the secret's value, for every SecretStr/SecretBytes in ``settings``."""
    out: dict[str, str] = {}
    for path, value in _walk(settings, ""):
        if isinstance(value, SecretStr):
            out[path] = value.get_secret_value()
        elif isinstance(value, SecretBytes):
            out[path] = value.get_secret_value().decode(errors="replace")
    return {p: v for p, v in out.items() if v}


def plain_secret_fields(settings: BaseModel) -> list[str]:
    """Paths of settings named like credentials that are plain strings (should be SecretStr)."""
    return [
        path
        for path, value in _walk(settings, "")
        if isinstance(value, str) and value and SECRET_NAME.search(path.rsplit(".", 1)[-1])
    ]


def models_allowing_extra(settings: BaseModel) -> list[str]:
    """Paths of (nested) settings models that would silently accept a misspelt key."""
    return [
        path or "(section)"
        for path, value in _walk(settings, "")
        if isinstance(value, BaseModel) and value.model_config.get("extra") != "forbid"
    ]


def undocumented_fields(settings: BaseModel) -> list[str]:
    """Fields without a ``description`` (``hub doctor`` and the docs print it)."""
    missing: set[str] = set()
    for _, value in _walk(settings, ""):
        if isinstance(value, BaseModel):
            cls = type(value)
            missing.update(
                f"{cls.__name__}.{name}"
                for name, info in cls.model_fields.items()
                if not (info.description or "").strip()
            )
    return sorted(missing)


def find_leaks(text: str, protected: Mapping[str, str]) -> list[str]:
    """Labels of the ``protected`` values (label → value) that occur in ``text``."""
    return sorted(label for label, value in protected.items() if value and value in text)


@contextmanager
def capture_structlog() -> Iterator[list[MutableMapping[str, Any]]]:
    """``structlog.testing.capture_logs`` at every level, raw (before any processor).

    ``capture_logs`` swaps the processors (so the hub's redaction does not run: we check what the
    connector *wrote*, not what redaction saved) but keeps the level filter; this lowers the
    filter too, so a secret logged at debug level is caught.
    """
    old_wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET))
    try:
        with structlog.testing.capture_logs() as entries:
            yield entries
    finally:
        structlog.configure(wrapper_class=old_wrapper)
