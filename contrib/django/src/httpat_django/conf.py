"""Where httpat is and how it is called, from Django's settings or else the environment.

Settings win, so a project pins its own values; the environment serves deploy scripts and
plain Python scripts that never configure Django.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "base_url",
    "binary",
    "database",
    "default_headers",
    "default_signing_secrets",
    "timeout",
]

DEFAULT_TIMEOUT = 60.0
"""Seconds: twice the 30 s that httpat itself waits for another process's write lock."""


def _setting(name: str) -> object | None:
    if settings.configured:
        value: object = getattr(settings, name, None)
        if value is not None:
            return value
    return os.environ.get(name) or None


def binary() -> str:
    """`HTTPAT_BIN`, else `httpat` found on `PATH`."""
    return str(_setting("HTTPAT_BIN") or "httpat")


def database() -> str | None:
    """`HTTPAT_DB`, else None: httpat's own default."""
    value = _setting("HTTPAT_DB")
    return None if value is None else str(value)


def timeout() -> float:
    """`HTTPAT_TIMEOUT` in seconds (a number or a `timedelta`): how long one call may take."""
    value = _setting("HTTPAT_TIMEOUT")
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, timedelta):
        return value.total_seconds()
    try:
        if isinstance(value, (int, float, str)):
            return float(value)
    except ValueError:
        pass
    raise ImproperlyConfigured(
        f"HTTPAT_TIMEOUT must be a number of seconds or a timedelta, not {value!r}"
    )


def base_url() -> str:
    """`HTTPAT_BASE_URL`: the site's root as httpat reaches it, e.g. `https://ims.example`."""
    value = _setting("HTTPAT_BASE_URL")
    if not value:
        raise ImproperlyConfigured(
            "HTTPAT_BASE_URL is not set: set it (in settings or the environment) to the site's "
            "root as httpat's tick reaches it, e.g. 'https://ims.example'"
        )
    text = str(value)
    if not text.lower().startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"HTTPAT_BASE_URL must start with http:// or https://, not {text!r}"
        )
    return text


def default_headers() -> Mapping[str, str]:
    """`settings.HTTPAT_HEADERS`: headers every schedulable path sends, e.g.
    `{"Authorization": "Bearer ${IMS_TOKEN}"}` (httpat reads `${IMS_TOKEN}` when it sends)."""
    value = getattr(settings, "HTTPAT_HEADERS", None) if settings.configured else None
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"HTTPAT_HEADERS must be a dict of header names to values, not {value!r}"
        )
    return value


def default_signing_secrets() -> tuple[str, ...]:
    """`settings.HTTPAT_SIGNING_SECRETS`: the `${VAR}` references every schedulable path signs
    with unless it names its own, e.g. `["${IMS_SIGNING_SECRET}"]`; checked when the endpoints
    file is written."""
    value = getattr(settings, "HTTPAT_SIGNING_SECRETS", None) if settings.configured else None
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise ImproperlyConfigured(
            "HTTPAT_SIGNING_SECRETS must be a list of '${VAR}' references, not "
            f"{type(value).__name__}"
        )
    return tuple(value)
