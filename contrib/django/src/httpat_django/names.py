"""Endpoint names: Django's namespaced URL name (`ims:release-roll`) as httpat spells it.

httpat's names are letters, digits, `-`, `_` and `.`, so the namespace separator `:` becomes
`.`: `ims:release-roll` is the endpoint `ims.release-roll`. Both spellings are accepted wherever
a name is given from Python.
"""

from __future__ import annotations

import re

__all__ = ["endpoint_name", "is_valid_endpoint_name"]

_VALID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def endpoint_name(name: str) -> str:
    """The httpat endpoint name for a Django URL name, namespaced or not (`a:b:c` → `a.b.c`)."""
    return name.replace(":", ".")


def is_valid_endpoint_name(name: str) -> bool:
    """Whether httpat accepts `name` (the rule of httpat's `register`)."""
    return _VALID.fullmatch(name) is not None
