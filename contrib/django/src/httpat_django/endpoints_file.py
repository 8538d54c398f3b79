"""httpat's endpoints file (`[endpoints.NAME]` tables, as `httpat register --file` reads it),
written from the schedulable paths.

Python has no TOML writer in its standard library, and the file needs only strings, integers,
booleans and arrays of strings, so it is written here: every string as a TOML basic string with
the escapes TOML defines, every table name quoted (endpoint names hold `.`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

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
# A signing secret as httpat takes it: a `${VAR}` reference and nothing else.
_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
# httpat's rate: N requests started in any second, minute or hour.
_RATE = re.compile(r"(?P<count>[0-9]+)/[smh]")


def endpoints_file(
    endpoints: Iterable[SchedulableEndpoint],
    *,
    base_url: str,
    default_headers: Mapping[str, str],
    urlconf: str,
    default_signing_secrets: Sequence[str] = (),
) -> str:
    """The endpoints file for `endpoints`: URLs below `base_url`, `default_headers` sent by
    every one of them unless a path overrides or drops them, and requests signed with
    `default_signing_secrets` unless a path names its own. Raises `ImproperlyConfigured` for
    an option httpat would refuse, naming the path."""
    lines = [
        f"# httpat endpoints: the schedulable paths of the URLconf {_comment(urlconf)},",
        "# made by `manage.py register_schedulable_paths` for `httpat register --file -`.",
    ]
    for endpoint in endpoints:
        lines += ["", *_entry(endpoint, base_url, default_headers, default_signing_secrets)]
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
    endpoint: SchedulableEndpoint,
    base_url: str,
    default_headers: Mapping[str, str],
    default_signing_secrets: Sequence[str],
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
        lines.append(f"max_attempts = {_integer(endpoint, 'max_attempts', options.max_attempts)}")
    if options.success is not None:
        lines.append(f"success = {toml_string(options.success)}")
    secrets = _signing_secrets(endpoint, default_signing_secrets)
    if secrets:
        lines.append(f"signing_secrets = [{', '.join(toml_string(secret) for secret in secrets)}]")
    if options.max_in_flight is not None:
        in_flight = _integer(endpoint, "max_in_flight", options.max_in_flight, positive=True)
        lines.append(f"max_in_flight = {in_flight}")
    if options.rate is not None:
        lines.append(f"rate = {toml_string(_rate(endpoint, options.rate))}")
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


def _signing_secrets(
    endpoint: SchedulableEndpoint, default_signing_secrets: Sequence[str]
) -> list[str]:
    """The path's own references, else the defaults; each exactly `${VAR}`, each once, so that
    no key is ever written into the file (httpat stores only the variables' names)."""
    own = endpoint.options.signing_secrets
    where = "HTTPAT_SIGNING_SECRETS" if own is None else endpoint.url_name
    references = default_signing_secrets if own is None else own
    names: list[str] = []
    for reference in references:
        match = _REFERENCE.fullmatch(reference) if isinstance(reference, str) else None
        if match is None:
            # Whatever it is may be a key pasted in by mistake: it is not repeated here.
            shown = repr(reference) if isinstance(reference, str) and "${" in reference else "…"
            raise ImproperlyConfigured(
                f"{where}: the signing secret {shown} is not a variable reference: write it as "
                "'${VAR}' and give httpat's tick the key in the variable VAR (a signing secret is "
                "never written into httpat's registry)"
            )
        if match["name"] in names:
            raise ImproperlyConfigured(
                f"{where}: the signing secret {reference!r} is given twice: give each once"
            )
        names.append(match["name"])
    return [f"${{{name}}}" for name in names]


def _rate(endpoint: SchedulableEndpoint, value: object) -> str:
    match = _RATE.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match["count"]) < 1:
        raise ImproperlyConfigured(
            f"{endpoint.url_name}: rate must be 'N/s', 'N/m' or 'N/h' with N at least 1 (at "
            f"most N requests started in any second, minute or hour), not {value!r}"
        )
    return match.group()


def _integer(
    endpoint: SchedulableEndpoint, option: str, value: object, *, positive: bool = False
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ImproperlyConfigured(
            f"{endpoint.url_name}: {option} must be an integer, not {value!r}"
        )
    if positive and value < 1:
        raise ImproperlyConfigured(
            f"{endpoint.url_name}: {option} must be at least 1 (None lifts the limit), "
            f"not {value!r}"
        )
    return value
