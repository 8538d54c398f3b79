"""The schedulable paths of a URLconf, found by walking it as Django's resolver does.

Each `SchedulableURLPattern` becomes one endpoint whose route is the concatenation of the
`include()` prefixes above it and its own route, with path converters as httpat placeholders
(`rolls/<str:roll>/release/` → `rolls/{roll}/release/`), and whose name carries the instance
namespaces above it (`ims:release-roll` → `ims.release-roll`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, URLResolver
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.regex_helper import normalize

from .names import endpoint_name, is_valid_endpoint_name
from .urls import EndpointOptions, SchedulableURLPattern

__all__ = ["SchedulableEndpoint", "schedulable_endpoints"]

# Django's own rule for a path parameter (`<int:id>`, `<roll>`).
_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")
# A parameter in a form from `normalize()` (`%(name)s`), or a literal `%` (`%%`).
_FORMAT_PIECE = re.compile(r"%\((?P<parameter>\w+)\)s|%%")
# What reverse() leaves unquoted in a path, so that the URL httpat sends is the one reverse()
# gives for the same arguments.
_SAFE = RFC3986_SUBDELIMS + "/~:@"


@dataclass(frozen=True)
class SchedulableEndpoint:
    """One schedulable path, ready to become an entry of httpat's endpoints file."""

    name: str
    """httpat's name: `ims.release-roll`."""
    url_name: str
    """Django's name, as `reverse()` takes it: `ims:release-roll`."""
    route: str
    """The path below the site's root, placeholders as `{name}`: `ims/rolls/{roll}/release/`."""
    view: str
    """The view's dotted path, for people reading the endpoints file."""
    options: EndpointOptions


def schedulable_endpoints(urlconf: str | ModuleType | None = None) -> list[SchedulableEndpoint]:
    """Every schedulable path of `urlconf` (a module or its dotted path; default
    `settings.ROOT_URLCONF`), in declaration order. Raises `ImproperlyConfigured` for a name
    httpat cannot take, or for two paths that would share one endpoint."""
    # The root resolver as get_resolver() makes it, uncached, so that a module may be given.
    root = URLResolver(RegexPattern(r"^/"), urlconf or settings.ROOT_URLCONF)
    found = list(_walk(root.url_patterns, "", ()))
    _check_names(found)
    return found


def _walk(
    patterns: Iterable[URLPattern | URLResolver], prefix: str, namespaces: tuple[str, ...]
) -> Iterator[SchedulableEndpoint]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _walk(entry.url_patterns, prefix + _template(entry.pattern), inner)
        elif isinstance(entry, SchedulableURLPattern):
            if not entry.name:
                raise ImproperlyConfigured(
                    f"the schedulable path {entry.pattern.describe()} has no name: its URL name "
                    "is its endpoint's name in httpat"
                )
            url_name = ":".join((*namespaces, entry.name))
            yield SchedulableEndpoint(
                name=endpoint_name(url_name),
                url_name=url_name,
                route=prefix + _template(entry.pattern),
                view=entry.lookup_str,
                options=entry.endpoint,
            )


def _template(pattern: object) -> str:
    """One pattern's part of the path, quoted as `reverse()` quotes it, parameters as `{name}`."""
    if isinstance(pattern, RoutePattern):
        return _fill(_PARAMETER, str(pattern))
    if isinstance(pattern, LocalePrefixPattern):
        return quote(pattern.language_prefix, safe=_SAFE)
    if isinstance(pattern, RegexPattern):
        forms = normalize(str(pattern))
        if len(forms) != 1:
            raise ImproperlyConfigured(
                f"the URL prefix {pattern.describe()} can be reversed in {len(forms)} ways, so "
                "the schedulable paths below it have no single URL: give it one form (no "
                "optional parts), or use path()"
            )
        return _fill(_FORMAT_PIECE, forms[0][0])
    raise ImproperlyConfigured(
        f"cannot build a URL from the pattern {pattern!r}: schedulable paths must sit below "
        "path(), re_path() or i18n_patterns()"
    )


def _fill(parameter: re.Pattern[str], text: str) -> str:
    """`text` with each parameter as `{name}` and everything else quoted."""
    pieces = []
    position = 0
    for match in parameter.finditer(text):
        pieces.append(quote(text[position : match.start()], safe=_SAFE))
        name = match.group("parameter")
        pieces.append("%25" if name is None else "{" + name + "}")
        position = match.end()
    pieces.append(quote(text[position:], safe=_SAFE))
    return "".join(pieces)


def _check_names(found: list[SchedulableEndpoint]) -> None:
    seen: dict[str, SchedulableEndpoint] = {}
    for endpoint in found:
        if not is_valid_endpoint_name(endpoint.name):
            raise ImproperlyConfigured(
                f"the schedulable path {endpoint.route!r} is named {endpoint.url_name!r}, which "
                f"makes the endpoint name {endpoint.name!r}: httpat's names are letters, digits, "
                "'-', '_' and '.' (a namespace's ':' becomes '.'), at most 100 characters"
            )
        earlier = seen.setdefault(endpoint.name, endpoint)
        if earlier is not endpoint:
            raise ImproperlyConfigured(
                f"the schedulable paths {earlier.route!r} ({earlier.url_name!r}) and "
                f"{endpoint.route!r} ({endpoint.url_name!r}) would both be the endpoint "
                f"{endpoint.name!r}: give each schedulable path a name of its own"
            )
