"""`schedulable_path()`: Django's `path()` that also declares the route an httpat endpoint.

The endpoint is declared where the URL is, so that a new view becomes schedulable by writing it
once; `register_schedulable_paths` later reads these declarations back out of `urlpatterns`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.urls import URLPattern, path

__all__ = ["EndpointOptions", "SchedulableURLPattern", "schedulable_path"]


@dataclass(frozen=True)
class EndpointOptions:
    """How httpat calls the route: the keys of one entry of httpat's endpoints file.

    `None` leaves a key out of the file, so httpat's default applies (POST, 30s, 5 attempts,
    2xx, no limits). `headers` are added to (and override, by name) `settings.HTTPAT_HEADERS`; a
    header given as `None` drops that default for this route. `signing_secrets` are `${VAR}`
    references; `None` takes `settings.HTTPAT_SIGNING_SECRETS`, and `()` signs nothing.
    """

    method: str = "POST"
    timeout: str | None = None
    success: str | None = None
    max_attempts: int | None = None
    headers: Mapping[str, str | None] = field(default_factory=dict)
    description: str | None = None
    deprecated: str | None = None
    """The reason, when the endpoint refuses new schedules (its waiting tasks still run)."""
    signing_secrets: tuple[str, ...] | None = None
    """`${VAR}` references to the keys every request is signed with (Standard Webhooks)."""
    max_in_flight: int | None = None
    """At most this many requests to the route at once, across every tick."""
    rate: str | None = None
    """At most N requests started in any second, minute or hour: `"N/s"`, `"N/m"`, `"N/h"`."""


class SchedulableURLPattern(URLPattern):
    """A `URLPattern` that httpat may call: Django resolves, reverses and includes it as any
    other, and `register_schedulable_paths` finds it by its class."""

    def __init__(
        self,
        pattern: Any,
        callback: Callable[..., Any],
        default_args: dict[str, Any] | None = None,
        name: str | None = None,
        *,
        endpoint: EndpointOptions,
    ) -> None:
        super().__init__(pattern, callback, default_args, name)
        self.endpoint = endpoint


def schedulable_path(
    route: str,
    view: Callable[..., Any],
    kwargs: dict[str, Any] | None = None,
    *,
    name: str,
    method: str = "POST",
    timeout: str | timedelta | None = None,
    success: str | Iterable[int | str] | None = None,
    max_attempts: int | None = None,
    headers: Mapping[str, str | None] | None = None,
    description: str | None = None,
    deprecated: bool | str = False,
    signing_secrets: str | Iterable[str] | None = None,
    max_in_flight: int | None = None,
    rate: str | None = None,
) -> SchedulableURLPattern:
    """`django.urls.path(route, view, kwargs, name=name)`, marked as an httpat endpoint.

    The endpoint's name is the URL's name, namespaced as Django reverses it (`ims:release-roll`
    is the endpoint `ims.release-roll`, since httpat's names have no `:`), so `name` is required.
    `timeout` is httpat's DURATION (`"10s"`) or a `timedelta`; `success` is httpat's list
    (`"2xx,409"`) or an iterable of codes and classes (`[200, 409]`); `deprecated` is `True` or
    the reason given to whoever schedules to it. `signing_secrets` is a list of `${VAR}`
    references (one for each key while keys rotate; a single string is one); `None` takes
    `settings.HTTPAT_SIGNING_SECRETS` and `[]` leaves the route unsigned. `max_in_flight` and
    `rate` (`"10/s"`, `"100/m"`, `"1000/h"`) limit how fast httpat calls it.
    """
    if isinstance(view, (list, tuple)):
        raise TypeError(
            "schedulable_path() takes a view, not include(): mark the views inside the "
            "included urlpatterns instead"
        )
    if not name:
        raise TypeError("schedulable_path() needs a name: it is the endpoint's name in httpat")
    # Django's own path() checks the route and the view, so the pattern is exactly the one
    # path() would have made.
    plain = path(route, view, kwargs, name=name)
    options = EndpointOptions(
        method=method.upper(),
        timeout=_duration(timeout),
        success=_success(success),
        max_attempts=max_attempts,
        headers=dict(headers or {}),
        description=description,
        deprecated=_deprecation(deprecated),
        signing_secrets=_secrets(signing_secrets),
        max_in_flight=max_in_flight,
        rate=rate,
    )
    return SchedulableURLPattern(
        plain.pattern, plain.callback, plain.default_args, plain.name, endpoint=options
    )


def _duration(value: str | timedelta | None) -> str | None:
    """httpat's DURATION for a timeout; a `timedelta` is written in milliseconds, rounded up."""
    if value is None or isinstance(value, str):
        return value
    microseconds = value // timedelta(microseconds=1)
    milliseconds = -(-microseconds // 1000)
    if milliseconds <= 0:
        raise ValueError(f"timeout must be positive, not {value!r}")
    if milliseconds % 1000 == 0:
        return f"{milliseconds // 1000}s"
    return f"{milliseconds}ms"


def _success(value: str | Iterable[int | str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(str(status) for status in value)


def _secrets(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """The references as a tuple; checked when the endpoints file is written."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _deprecation(value: bool | str) -> str | None:
    if value is True:
        return ""
    if value is False:
        return None
    return value
