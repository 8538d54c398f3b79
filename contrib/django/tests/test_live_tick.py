"""End to end: the view that records a roll schedules its release, and a real `httpat tick`
sends it to Django's live server, which releases the roll only with the Bearer token."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

import httpat_django
from ims.models import Roll

TOKEN = "tests-only-token"


@pytest.fixture
def ims(settings: Any, live_server: Any) -> None:
    """httpat's registry points at the live server, and a roll cools for no time at all."""
    settings.HTTPAT_BASE_URL = live_server.url
    settings.IMS_TOKEN = TOKEN
    settings.IMS_COOL_DOWN = timedelta(0)
    call_command("register_schedulable_paths", stdout=StringIO())


def tick(httpat_bin: str, httpat_db: Path, token: str | None) -> dict[str, Any]:
    """One `httpat tick --json`, as cron runs it, with the secret in its environment."""
    env = {name: value for name, value in os.environ.items() if name != "IMS_TOKEN"}
    if token is not None:
        env["IMS_TOKEN"] = token
    finished = subprocess.run(
        [httpat_bin, "--db", str(httpat_db), "--json", "tick", "--max-runtime", "20s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished
    answer: dict[str, Any] = json.loads(finished.stdout)
    return answer


def record(number: str) -> int:
    response = Client().post("/ims/rolls/", {"number": number})
    assert response.status_code == 201, response.content
    task: int = response.json()["task"]
    return task


@pytest.mark.usefixtures("ims")
def test_a_tick_releases_the_cooled_roll(httpat_bin: str, httpat_db: Path) -> None:
    task = record("CCT-0042")
    assert Roll.objects.get(number="CCT-0042").released_at is None

    done = tick(httpat_bin, httpat_db, TOKEN)
    assert (done["sent"], done["succeeded"]) == (1, 1), done

    assert Roll.objects.get(number="CCT-0042").released_at is not None
    detail = httpat_django.show(task)
    assert detail["state"] == "succeeded"
    [attempt] = detail["attempts"]
    assert attempt["status"] == 200
    assert json.loads(attempt["body"])["roll"] == "CCT-0042"
    assert ["Authorization", "Bearer ${IMS_TOKEN}"] in detail["request"]["headers"]
    assert TOKEN not in json.dumps(detail), "the secret is never stored"

    assert tick(httpat_bin, httpat_db, TOKEN)["sent"] == 0, "sent once"


@pytest.mark.usefixtures("ims")
def test_a_release_already_done_by_hand_counts_as_success(httpat_bin: str, httpat_db: Path) -> None:
    task = record("CCT-0043")
    Roll.objects.filter(number="CCT-0043").update(released_at="2026-11-25T12:00:00Z")
    assert tick(httpat_bin, httpat_db, TOKEN)["succeeded"] == 1
    detail = httpat_django.show(task)
    assert (detail["state"], detail["attempts"][0]["status"]) == ("succeeded", 409)


@pytest.mark.usefixtures("ims")
def test_a_tick_with_the_wrong_token_releases_nothing(httpat_bin: str, httpat_db: Path) -> None:
    task = record("CCT-0044")
    done = tick(httpat_bin, httpat_db, "not-the-token")
    assert done["failed"] == 1, done
    assert Roll.objects.get(number="CCT-0044").released_at is None
    detail = httpat_django.show(task)
    assert (detail["state"], detail["attempts"][0]["status"]) == ("failed", 401)
