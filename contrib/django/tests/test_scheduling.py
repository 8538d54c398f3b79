"""`schedule`, `cancel`, `show` and `tasks` from Python, through the real binary: what they send
is what httpat stores, refusals are `HttpatError`s with httpat's code and message, and a binary
that cannot be run or does not answer says so."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client

import httpat_django
from httpat_django import HttpatError, HttpatNotFound, HttpatTimeout
from ims.models import Roll

Httpat = Callable[..., Any]

NOW = "2026-11-25T12:00:00Z"


def register() -> None:
    call_command("register_schedulable_paths", stdout=StringIO())


@pytest.fixture(autouse=True)
def registered() -> None:
    register()


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpat's test clock, read by every command it runs from now on."""
    monkeypatch.setenv("HTTPAT_NOW", NOW)


@pytest.mark.usefixtures("pinned_clock")
@pytest.mark.parametrize(
    ("delay", "due_at"),
    [
        (timedelta(hours=36), "2026-11-27T00:00:00.000Z"),
        (timedelta(days=2, minutes=90, seconds=5), "2026-11-27T13:30:05.000Z"),
        # Never early: a part of a millisecond counts as a whole one.
        (timedelta(seconds=1, microseconds=1), "2026-11-25T12:00:01.001Z"),
        (timedelta(0), "2026-11-25T12:00:00.000Z"),
    ],
)
def test_a_delay_is_the_time_from_now(delay: timedelta, due_at: str) -> None:
    task = httpat_django.schedule("ims.release-roll", delay=delay, args={"roll": "CCT-0042"})
    assert isinstance(task, int)
    detail = httpat_django.show(task)
    assert detail["due_at"] == due_at
    assert detail["args"] == {"roll": "CCT-0042"}


def test_at_is_an_aware_datetime_in_any_zone() -> None:
    at = datetime(2030, 6, 1, 6, 0, 0, 250_000, tzinfo=ZoneInfo("Europe/Riga"))
    task = httpat_django.schedule("ims.release-roll", at=at, args={"roll": "CCT-0043"})
    assert httpat_django.show(task)["due_at"] == "2030-06-01T03:00:00.250Z"


def test_a_naive_datetime_is_refused_before_httpat_is_called(httpat: Httpat) -> None:
    with pytest.raises(ValueError, match="naive"):
        httpat_django.schedule("ims.release-roll", at=datetime(2030, 6, 1, 6, 0), args={})
    with pytest.raises(TypeError, match="at= .* or delay="):
        httpat_django.schedule("ims.release-roll", args={"roll": "CCT-1"})
    assert httpat("list", json_output=True)["tasks"] == []


def test_the_django_name_and_httpats_name_are_one_endpoint() -> None:
    first = httpat_django.scheduled(
        "ims:release-roll", delay=timedelta(hours=36), args={"roll": "CCT-0044"}, key="cool:44"
    )
    again = httpat_django.scheduled(
        "ims.release-roll", delay=timedelta(hours=36), args={"roll": "CCT-0044"}, key="cool:44"
    )
    assert first["endpoint"] == "ims.release-roll"
    assert (first["existing"], again["existing"]) == (False, True)
    assert again["id"] == first["id"]
    assert again["due_at"] == httpat_django.show(first["id"])["due_at"], "the first time stays"


def test_every_option_reaches_httpat(httpat: Httpat) -> None:
    label = uuid.UUID("12345678-1234-5678-1234-567812345678")
    task = httpat_django.schedule(
        "ims:print-label",
        delay=timedelta(minutes=5),
        args={"label": label, "copies": 2, "note": "-- not an option"},
        key="-label-1",
        priority=-3,
        agent="line3",
        max_attempts=2,
    )
    [listed] = httpat("list", json_output=True)["tasks"]
    assert listed["id"] == task
    assert listed["args"] == {"label": str(label), "copies": 2, "note": "-- not an option"}
    assert (listed["key"], listed["priority"], listed["agent"]) == ("-label-1", -3, "line3")
    assert listed["max_attempts"] == 2
    request = httpat_django.show(task)["request"]
    assert request["url"] == f"http://ims.test/ims/labels/{label}/print/"


def test_tasks_filters_as_list_does() -> None:
    rolls = [
        httpat_django.schedule("ims:release-roll", delay=timedelta(hours=h), args={"roll": r})
        for h, r in ((2, "CCT-2"), (1, "CCT-1"))
    ]
    other = httpat_django.schedule("ping", delay=timedelta(minutes=1))
    httpat_django.cancel(rolls[0])
    assert [t["id"] for t in httpat_django.tasks()] == [other, rolls[1], rolls[0]]
    waiting = httpat_django.tasks(endpoint="ims:release-roll", state=["scheduled", "due"])
    assert [t["id"] for t in waiting] == [rolls[1]]
    assert waiting[0]["attempts_used"] == 0
    later = datetime.now(timezone.utc) + timedelta(minutes=30)
    assert [t["id"] for t in httpat_django.tasks(after=later)] == [rolls[1], rolls[0]]
    assert [t["id"] for t in httpat_django.tasks(limit=1)] == [other]


def test_cancel_by_id_or_key_with_a_reason() -> None:
    task = httpat_django.schedule(
        "ims:release-roll", delay=timedelta(hours=36), args={"roll": "CCT-5"}, key="cool:CCT-5"
    )
    assert httpat_django.cancel(key="cool:CCT-5", reason="moved by hand") == {
        "id": task,
        "was": "scheduled",
        "state": "cancelled",
    }
    assert httpat_django.cancel(task)["was"] == "cancelled", "cancelling twice is fine"
    detail = httpat_django.show(task)
    assert detail["state"] == "cancelled"
    assert any("moved by hand" in (t["detail"] or "") for t in detail["transitions"]), detail


def test_the_view_that_records_a_roll_schedules_its_cool_down(db: None) -> None:
    response = Client().post("/ims/rolls/", {"number": "CCT-0042"})
    assert response.status_code == 201, response.content
    task = response.json()["task"]
    detail = httpat_django.show(task)
    assert (detail["endpoint"], detail["key"]) == ("ims.release-roll", "cool:CCT-0042")
    assert detail["request"]["url"] == "http://ims.test/ims/rolls/CCT-0042/release/"
    due = datetime.fromisoformat(detail["due_at"].replace("Z", "+00:00"))
    cool_down = due - datetime.now(timezone.utc)
    assert timedelta(hours=35, minutes=59) < cool_down <= timedelta(hours=36)


def test_a_refusal_in_the_view_records_no_roll(db: None) -> None:
    # A script already took the key for another task: the view's schedule() is refused, and
    # its transaction keeps no roll without a cool-down.
    httpat_django.schedule(
        "ims:release-roll", delay=timedelta(hours=1), args={"roll": "CCT-9"}, key="cool:CCT-0051"
    )
    with pytest.raises(HttpatError) as refused:
        Client().post("/ims/rolls/", {"number": "CCT-0051"})
    assert refused.value.refused and "cool:CCT-0051" in refused.value.message
    assert not Roll.objects.filter(number="CCT-0051").exists()


@pytest.mark.parametrize(
    ("call", "code", "words"),
    [
        (
            lambda: httpat_django.schedule("ims:unknown", delay=timedelta(hours=1)),
            3,
            'endpoint "ims.unknown" is not registered',
        ),
        (
            lambda: httpat_django.schedule("ims:release-roll", delay=timedelta(hours=1)),
            2,
            "--arg roll=",
        ),
        (
            lambda: httpat_django.schedule(
                "ims:export", delay=timedelta(hours=1), args={"folder": "a"}
            ),
            3,
            "use the nightly export",
        ),
        (lambda: httpat_django.cancel(999), 3, "999"),
        (lambda: httpat_django.show(999), 3, "999"),
    ],
)
def test_refusals_are_httpat_errors_with_its_code_and_message(
    call: Any, code: int, words: str
) -> None:
    with pytest.raises(HttpatError) as refused:
        call()
    assert refused.value.code == code
    assert refused.value.refused == (code == 3) and refused.value.usage == (code == 2)
    assert words in refused.value.message, refused.value.message
    assert not refused.value.message.startswith("httpat: ")


def test_a_missing_binary_is_a_clear_error_naming_httpat_bin(settings: Any, tmp_path: Path) -> None:
    settings.HTTPAT_BIN = str(tmp_path / "no-httpat-here")
    with pytest.raises(HttpatNotFound, match="HTTPAT_BIN") as missing:
        httpat_django.tasks()
    assert "no-httpat-here" in str(missing.value)
    assert not isinstance(missing.value, HttpatError), "a view catching refusals must not hide it"


def test_a_binary_that_does_not_answer_in_time_is_a_timeout(settings: Any, tmp_path: Path) -> None:
    stuck = tmp_path / "stuck-httpat"
    stuck.write_text("#!/bin/sh\nexec sleep 30\n")
    stuck.chmod(0o755)
    settings.HTTPAT_BIN = str(stuck)
    settings.HTTPAT_TIMEOUT = 0.5
    with pytest.raises(HttpatTimeout, match="HTTPAT_TIMEOUT"):
        httpat_django.show(1)


def test_the_environment_is_read_when_settings_say_nothing(
    settings: Any, monkeypatch: pytest.MonkeyPatch, httpat_bin: str, tmp_path: Path
) -> None:
    del settings.HTTPAT_BIN, settings.HTTPAT_DB
    monkeypatch.setenv("HTTPAT_BIN", httpat_bin)
    monkeypatch.setenv("HTTPAT_DB", str(tmp_path / "from-env.db"))
    assert httpat_django.tasks() == []
    register()
    httpat_django.schedule("ping", delay=timedelta(hours=1))
    assert (tmp_path / "from-env.db").exists()
