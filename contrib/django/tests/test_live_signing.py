"""End to end, signed: a real `httpat tick` signs its request to `ims:seal-roll` (Standard
Webhooks), and the view verifies the signature with the `standardwebhooks` library before it
seals the roll, so that the signer and the verifier are written independently of each other.
A request not signed with the view's key is refused with 403; a tick without the key sends
nothing and leaves the task due."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from standardwebhooks import Webhook

import httpat_django
from ims.models import Roll

# Keys as httpat and the library take them: base64, with or without the `whsec_` prefix.
KEY = "whsec_" + base64.b64encode(b"tests-only signing key: the current").decode()
NEW_KEY = base64.b64encode(b"tests-only signing key: the next one").decode()
OTHER_KEY = "whsec_" + base64.b64encode(b"tests-only signing key: not the IMS's").decode()
VARIABLES = ("IMS_TOKEN", "IMS_SIGNING_SECRET", "IMS_SIGNING_NEW")


@pytest.fixture
def ims(settings: Any, live_server: Any) -> None:
    """httpat's registry points at the live server, whose seal view knows `KEY`."""
    settings.HTTPAT_BASE_URL = live_server.url
    settings.IMS_SIGNING_SECRET = KEY
    call_command("register_schedulable_paths", stdout=StringIO())


def tick(httpat_bin: str, httpat_db: Path, **variables: str) -> tuple[int, dict[str, Any], str]:
    """One `httpat tick --json`, as cron runs it (its default 50 s of runtime, so that the seal
    view's default 30 s timeout fits), with exactly `variables` of the IMS's secrets in its
    environment; returns its exit code, its JSON and its stderr."""
    env = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    finished = subprocess.run(
        [httpat_bin, "--db", str(httpat_db), "--json", "tick"],
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return finished.returncode, json.loads(finished.stdout), finished.stderr


def seal(number: str) -> int:
    """A roll on the line, and a request to seal it, due at once."""
    Roll.objects.create(number=number)
    return httpat_django.schedule("ims:seal-roll", delay=timedelta(0), args={"roll": number})


def sealed(number: str) -> bool:
    return Roll.objects.get(number=number).sealed_at is not None


@pytest.mark.usefixtures("ims")
def test_a_signed_tick_seals_the_roll(httpat_bin: str, httpat_db: Path) -> None:
    task = seal("CCT-0050")
    code, done, stderr = tick(httpat_bin, httpat_db, IMS_SIGNING_SECRET=KEY)
    assert (code, done["sent"], done["succeeded"]) == (0, 1, 1), (done, stderr)
    assert sealed("CCT-0050")
    detail = httpat_django.show(task)
    assert (detail["state"], detail["attempts"][0]["status"]) == ("succeeded", 200)
    assert json.loads(detail["attempts"][0]["body"])["roll"] == "CCT-0050"
    assert KEY not in json.dumps(detail), "the key is never stored"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, None),
        ("{now}", "{other}"),
        ("1", "{signed}"),
        ("now", "{signed}"),
        ("{now}", "not a signature"),
        ("{now}", "v1,abc"),
    ],
    ids=["unsigned", "other-key", "too-old", "bad-timestamp", "malformed", "bad-base64"],
)
def test_a_request_without_a_valid_signature_is_refused(
    settings: Any, timestamp: str | None, signature: str | None
) -> None:
    """Django's test client, not httpat: whatever a caller sends short of a valid signature is
    a 403, never a 500, and the roll stays unsealed."""
    settings.IMS_SIGNING_SECRET = KEY
    Roll.objects.create(number="CCT-0051")
    body = json.dumps({"roll": "CCT-0051"})
    now = datetime.now(timezone.utc)
    values = {
        "now": str(int(now.timestamp())),
        "other": Webhook(OTHER_KEY).sign("x", now, body),
        "signed": Webhook(KEY).sign("x", now, body),
    }
    headers: dict[str, str] = {}
    if timestamp is not None and signature is not None:
        headers = {
            "webhook-id": "x",
            "webhook-timestamp": timestamp.format(**values),
            "webhook-signature": signature.format(**values),
        }
    response = Client().post(
        "/ims/rolls/CCT-0051/seal/", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 403, response.content
    assert not sealed("CCT-0051")

    headers = {
        "webhook-id": "x",
        "webhook-timestamp": values["now"],
        "webhook-signature": values["signed"],
    }
    response = Client().post(
        "/ims/rolls/CCT-0051/seal/", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200, "the same request signed with the key is accepted"


@pytest.mark.usefixtures("ims")
def test_a_tick_signing_with_another_key_is_refused(httpat_bin: str, httpat_db: Path) -> None:
    task = seal("CCT-0052")
    code, done, stderr = tick(httpat_bin, httpat_db, IMS_SIGNING_SECRET=OTHER_KEY)
    assert (code, done["sent"], done["failed"]) == (0, 1, 1), (done, stderr)
    assert not sealed("CCT-0052")
    detail = httpat_django.show(task)
    assert (detail["state"], detail["attempts"][0]["status"]) == ("failed", 403)


@pytest.mark.usefixtures("ims")
def test_while_keys_rotate_a_view_on_either_key_accepts(
    settings: Any, httpat_bin: str, httpat_db: Path
) -> None:
    """The deploy that starts a rotation signs with the old key and the new one; the view is
    then moved to the new key, and a view not moved yet keeps working too."""
    settings.ROOT_URLCONF = "testproject.urls_rotating"
    stdout = StringIO()
    call_command("register_schedulable_paths", stdout=stdout)
    assert stdout.getvalue() == "ims.seal-roll: updated: signing_secrets\n"
    secrets = {"IMS_SIGNING_SECRET": KEY, "IMS_SIGNING_NEW": NEW_KEY}

    settings.IMS_SIGNING_SECRET = NEW_KEY  # the view knows only the new key
    seal("CCT-0053")
    code, done, stderr = tick(httpat_bin, httpat_db, **secrets)
    assert (code, done["sent"], done["succeeded"]) == (0, 1, 1), (done, stderr)
    assert sealed("CCT-0053")

    settings.IMS_SIGNING_SECRET = KEY  # a view still on the old key
    seal("CCT-0054")
    code, done, stderr = tick(httpat_bin, httpat_db, **secrets)
    assert (code, done["sent"], done["succeeded"]) == (0, 1, 1), (done, stderr)
    assert sealed("CCT-0054")


@pytest.mark.usefixtures("ims")
@pytest.mark.parametrize(
    ("variables", "why"),
    [({}, "is not set"), ({"IMS_SIGNING_SECRET": "not base64!"}, "holds no signing secret")],
    ids=["unset", "not-base64"],
)
def test_a_tick_without_the_key_sends_nothing_and_the_task_stays_due(
    httpat_bin: str, httpat_db: Path, variables: dict[str, str], why: str
) -> None:
    task = seal("CCT-0055")
    code, done, stderr = tick(httpat_bin, httpat_db, **variables)
    assert (code, done["sent"]) == (1, 0), (done, stderr)
    [waiting] = done["missing_variables"]
    assert (waiting["endpoint"], waiting["tasks_waiting"]) == ("ims.seal-roll", 1)
    assert "IMS_SIGNING_SECRET" in stderr and why in stderr, stderr
    detail = httpat_django.show(task)
    assert (detail["state"], detail["attempts"]) == ("due", [])
    assert not sealed("CCT-0055")

    code, done, stderr = tick(httpat_bin, httpat_db, IMS_SIGNING_SECRET=KEY)
    assert (code, done["succeeded"]) == (0, 1), (done, stderr)
    assert sealed("CCT-0055")
