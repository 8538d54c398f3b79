"""`schedule`, `cancel`, `show` and `tasks`: httpat's commands of the same names, from Python.

Each is one call of the binary with `--json`, so what Python sees is exactly what httpat stored
and would print; a refusal raises `HttpatError` with httpat's message and exit code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypedDict

from django.core.serializers.json import DjangoJSONEncoder

from .binary import run_json
from .names import endpoint_name

__all__ = ["Cancellation", "Scheduled", "cancel", "schedule", "scheduled", "show", "tasks"]


class Scheduled(TypedDict):
    """`httpat schedule --json`: `existing` is true when `key` named an earlier task, whose id
    and time these are."""

    id: int
    endpoint: str
    due_at: str
    existing: bool


class Cancellation(TypedDict):
    """One entry of `httpat cancel --json`: `was` is the state it was cancelled from
    (`cancelled` when it already was)."""

    id: int
    was: str
    state: str


def schedule(
    name: str,
    *,
    at: datetime | None = None,
    delay: timedelta | None = None,
    args: Mapping[str, Any] | None = None,
    key: str | None = None,
    priority: int | None = None,
    agent: str | None = None,
    max_attempts: int | None = None,
) -> int:
    """Schedules one request to the endpoint `name` and returns the task's id.

    `name` is httpat's (`ims.release-roll`) or Django's (`ims:release-roll`). Give exactly one
    of `at` (an aware datetime) and `delay` (a timedelta from now). `args` fill the URL's
    placeholders and, for POST, PUT and PATCH, are the JSON body; values are encoded as Django
    encodes JSON, so a `UUID`, `Decimal` or `date` may be given as it is. With a `key`, calling
    again with the same endpoint and arguments returns the first task's id and changes nothing.
    """
    return scheduled(
        name,
        at=at,
        delay=delay,
        args=args,
        key=key,
        priority=priority,
        agent=agent,
        max_attempts=max_attempts,
    )["id"]


def scheduled(
    name: str,
    *,
    at: datetime | None = None,
    delay: timedelta | None = None,
    args: Mapping[str, Any] | None = None,
    key: str | None = None,
    priority: int | None = None,
    agent: str | None = None,
    max_attempts: int | None = None,
) -> Scheduled:
    """`schedule()`, returning httpat's whole answer: the id, the due time, and whether `key`
    matched an earlier task."""
    arguments = ["schedule", *_when(at, delay)]
    if args is not None:
        if not isinstance(args, Mapping):
            raise TypeError(f"args must be a mapping of names to values, not {args!r}")
        arguments += _options(args=json.dumps(dict(args), cls=DjangoJSONEncoder))
    arguments += _options(key=key, priority=priority, agent=agent, max_attempts=max_attempts)
    # After `--` a name is never taken for an option, whatever it starts with.
    arguments += ["--", endpoint_name(name)]
    answer: Scheduled = run_json(arguments)
    return answer


def cancel(
    id: int | None = None, *, key: str | None = None, reason: str | None = None
) -> Cancellation:
    """Cancels the task `id` (or the one with the idempotency `key`) if it has not started.

    Cancelling a cancelled task is fine; a running or finished one raises `HttpatError` (3).
    """
    if (id is None) == (key is None):
        raise TypeError("cancel() takes a task id or key=, not both")
    arguments = ["cancel", *_options(key=key, reason=reason)]
    if id is not None:
        arguments.append(str(_task_id(id)))
    answer: list[Cancellation] = run_json(arguments)
    return answer[0]


def show(id: int) -> dict[str, Any]:
    """One task whole, as `httpat show --json` gives it: its request, arguments, times, every
    attempt with its response, and its history (`transitions`)."""
    answer: dict[str, Any] = run_json(["show", str(_task_id(id))])
    return answer


def tasks(
    *,
    state: str | Iterable[str] | None = None,
    endpoint: str | None = None,
    agent: str | None = None,
    key: str | None = None,
    schedule: str | None = None,
    before: datetime | str | None = None,
    after: datetime | str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Tasks in the order they fall due, as `httpat list --json` gives them (at most `limit`,
    httpat's default 50). `state` is one state or several (`["failed", "cancelled"]`);
    `before`/`after` are aware datetimes or httpat's TIME (`"now"`, `"+36h"`)."""
    states = state if state is None or isinstance(state, str) else ",".join(state)
    arguments = ["list"]
    arguments += _options(
        state=states,
        endpoint=None if endpoint is None else endpoint_name(endpoint),
        agent=agent,
        key=key,
        schedule=schedule,
        before=_time(before),
        after=_time(after),
        limit=limit,
    )
    answer: dict[str, Any] = run_json(arguments)
    found: list[dict[str, Any]] = answer["tasks"]
    return found


def _when(at: datetime | None, delay: timedelta | None) -> list[str]:
    if (at is None) == (delay is None):
        raise TypeError("schedule() takes at= (an aware datetime) or delay= (a timedelta)")
    if at is not None:
        return [f"--at={_rfc3339(at)}"]
    assert delay is not None  # for the type checker: exactly one of the two was given
    return [f"--in={_duration(delay)}"]


def _rfc3339(at: datetime) -> str:
    """RFC 3339 with the offset and every microsecond (httpat rounds up, never early)."""
    if not isinstance(at, datetime):
        raise TypeError(f"at must be a datetime, not {at!r}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            f"at={at!r} is naive: give an aware datetime (django.utils.timezone.now() is one), "
            "so that the time does not depend on the zone httpat runs in"
        )
    return at.isoformat(timespec="microseconds")


def _duration(delay: timedelta) -> str:
    """httpat's DURATION for `delay` (`1d 12h`), rounded up to the millisecond: never early."""
    if not isinstance(delay, timedelta):
        raise TypeError(f"delay must be a timedelta, not {delay!r}")
    if delay < timedelta(0):
        raise ValueError(f"delay must not be negative, not {delay!r}")
    microseconds = delay // timedelta(microseconds=1)
    milliseconds = -(-microseconds // 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, milliseconds = divmod(milliseconds, size)
        if count:
            parts.append(f"{count}{unit}")
    if milliseconds or not parts:
        parts.append(f"{milliseconds}ms")
    return " ".join(parts)


def _time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return _rfc3339(value)


def _task_id(value: int) -> int:
    # bool is an int to Python, and a str "42" would be sent as given: neither is an id.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a task id is an int, not {value!r}")
    return value


def _options(**options: object) -> list[str]:
    """`--name=value` for each option given (`_` in names as `-`): joined, so that a value
    starting with `-` (a reason, a key, a negative priority) is never read as an option."""
    return [
        f"--{option.replace('_', '-')}={value}"
        for option, value in options.items()
        if value is not None
    ]
