"""httpat's endpoints file (`[endpoints.NAME]` tables, as `httpat register --file` reads it),
written from the schedulable paths.

Python has no TOML writer in its standard library, and the file needs only strings, integers,
booleans and arrays of strings, so it is written here: every string as a TOML basic string with
the escapes TOML defines, every table name quoted (endpoint names hold `.`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django.core.exceptions import ImproperlyConfigured

from .registry import SchedulableEndpoint

__all__ = ["endpoints_file", "toml_string"]

# TOML's short escapes; any other control character is written \uXXXX.
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
# What a TOML comment may not hold (a tab it may).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def endpoints_file(
    endpoints: Iterable[SchedulableEndpoint],
    *,
    base_url: str,
    default_headers: Mapping[str, str],
    urlconf: str,
) -> str:
    """The endpoints file for `endpoints`: URLs below `base_url`, `default_headers` sent by
    every one of them unless a path overrides or drops them."""
    lines = [
        f"# httpat endpoints: the schedulable paths of the URLconf {_comment(urlconf)},",
        "# made by `manage.py register_schedulable_paths` for `httpat register --file -`.",
    ]
    for endpoint in endpoints:
        lines += ["", *_entry(endpoint, base_url, default_headers)]
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    """`text` as a TOML basic string."""
    escaped = []
    for character in text:
        if character in _ESCAPES:
            escaped.append(_ESCAPES[character])
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            escaped.append(f"\\u{ord(character):04X}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'


def _comment(text: str) -> str:
    """`text` fit for a comment, which ends at a line break and may hold no control character."""
    return _CONTROL.sub(" ", text)


def _entry(
    endpoint: SchedulableEndpoint, base_url: str, default_headers: Mapping[str, str]
) -> list[str]:
    options = endpoint.options
    url = base_url.rstrip("/") + "/" + endpoint.route
    lines = [
        f"# {_comment(endpoint.url_name)}: {_comment(endpoint.view)}",
        f"[endpoints.{toml_string(endpoint.name)}]",
        f"url = {toml_string(url)}",
        f"method = {toml_string(options.method)}",
    ]
    headers = _headers(endpoint, default_headers)
    if headers:
        lines.append(f"headers = [{', '.join(toml_string(header) for header in headers)}]")
    if options.timeout is not None:
        lines.append(f"timeout = {toml_string(options.timeout)}")
    if options.max_attempts is not None:
        lines.append(f"max_attempts = {_integer(endpoint, options.max_attempts)}")
    if options.success is not None:
        lines.append(f"success = {toml_string(options.success)}")
    if options.description is not None:
        lines.append(f"description = {toml_string(options.description)}")
    if options.deprecated is not None:
        lines.append("deprecated = true")
        if options.deprecated:
            lines.append(f"deprecated_reason = {toml_string(options.deprecated)}")
    return lines


def _headers(endpoint: SchedulableEndpoint, default_headers: Mapping[str, str]) -> list[str]:
    """`Name: value` lines: the defaults, then the path's own, names compared without case as
    HTTP compares them; a path's `None` drops a default."""
    merged: dict[str, tuple[str, str]] = {}
    for name, value in default_headers.items():
        merged[name.lower()] = (name, _header_value(name, value, "HTTPAT_HEADERS"))
    for name, own in endpoint.options.headers.items():
        if own is None:
            merged.pop(name.lower(), None)
        else:
            merged[name.lower()] = (name, _header_value(name, own, endpoint.url_name))
    return [f"{name}: {value}" for name, value in merged.values()]


def _header_value(name: object, value: object, where: str) -> str:
    if not isinstance(name, str) or not isinstance(value, str):
        raise ImproperlyConfigured(
            f"{where}: header {name!r} must be a string name with a string value, not {value!r}"
        )
    return value


def _integer(endpoint: SchedulableEndpoint, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ImproperlyConfigured(
            f"{endpoint.url_name}: max_attempts must be an integer, not {value!r}"
        )
    return value
