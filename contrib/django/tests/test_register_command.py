"""`manage.py register_schedulable_paths` makes httpat's registry match `urlpatterns` through
the real binary: created, then unchanged; `--prune` after a view is removed; `--dry-run`
changes nothing; httpat's refusals come back as `CommandError` with its message and code."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

import httpat_django
from expected import EXPECTED_ROUTES

Endpoints = Callable[[], dict[str, dict[str, Any]]]
TESTS = Path(__file__).resolve().parent


def register(*options: str) -> tuple[str, str]:
    """Runs the command in this process; returns (stdout, stderr)."""
    stdout, stderr = StringIO(), StringIO()
    call_command("register_schedulable_paths", *options, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def lines(text: str) -> list[str]:
    return sorted(text.splitlines())


def changes(change: str, names: Iterable[str] = EXPECTED_ROUTES) -> list[str]:
    """`NAME: CHANGE` for each endpoint, as httpat prints them, sorted."""
    return sorted(f"{name}: {change}" for name in names)


def test_every_schedulable_path_is_registered_with_its_options(endpoints: Endpoints) -> None:
    stdout, _ = register()
    assert lines(stdout) == changes("created")
    registered = endpoints()
    assert {name: entry["url"] for name, entry in registered.items()} == {
        name: "http://ims.test/" + route for name, route in EXPECTED_ROUTES.items()
    }
    release = registered["ims.release-roll"]
    assert release["method"] == "POST"
    assert release["headers"] == ["Authorization: Bearer ${IMS_TOKEN}"]
    assert release["timeout_ms"] == 10_000
    assert release["max_attempts"] == 8
    assert release["success"] == "2xx,409"
    assert release["description"] == 'Move a cooled roll to the "batching" inbox'
    seal = registered["ims.lines.seal-batch"]
    assert (seal["method"], seal["timeout_ms"], seal["success"]) == ("PUT", 5500, "200,204,409")
    label = registered["ims.print-label"]
    assert label["headers"] == ["X-Printer-Key: ${PRINTER_KEY}"]
    assert (label["max_in_flight"], label["rate"], label["signing_secrets"]) == (1, "30/m", [])
    seal = registered["ims.seal-roll"]
    assert (seal["signing_secrets"], seal["headers"]) == (["${IMS_SIGNING_SECRET}"], [])
    assert (seal["max_in_flight"], seal["rate"]) == (None, None)
    assert registered["ims.export"]["deprecated"] is True
    assert registered["ims.export"]["deprecated_reason"] == "use the nightly export"


def test_a_second_run_changes_nothing(endpoints: Endpoints, httpat_db: Path) -> None:
    register()
    before = endpoints()
    stdout, _ = register()
    assert lines(stdout) == changes("unchanged")
    assert endpoints() == before


def test_a_changed_option_is_reported_as_updated(settings: Any) -> None:
    register()
    settings.HTTPAT_BASE_URL = "https://ims.example"
    stdout, _ = register()
    assert lines(stdout) == changes("updated: url")


def test_prune_removes_the_endpoint_of_a_removed_view(settings: Any, endpoints: Endpoints) -> None:
    register()
    settings.ROOT_URLCONF = "testproject.urls_without_ping"
    stdout, _ = register()
    assert "ping" not in stdout, "without --prune an endpoint stays"
    assert "ping" in endpoints()

    stdout, _ = register("--prune")
    assert lines(stdout) == sorted(
        [*changes("unchanged", set(EXPECTED_ROUTES) - {"ping"}), "ping: removed"]
    )
    assert "ping" not in endpoints()


def test_prune_is_refused_while_the_removed_view_has_waiting_tasks(
    settings: Any, endpoints: Endpoints
) -> None:
    register()
    httpat_django.schedule("ping", delay=timedelta(hours=1))
    settings.ROOT_URLCONF = "testproject.urls_without_ping"
    settings.HTTPAT_BASE_URL = "https://ims.example"
    before = endpoints()
    with pytest.raises(CommandError) as refused:
        register("--prune")
    assert refused.value.returncode == 3
    assert 'endpoint "ping" still has 1 unfinished task' in str(refused.value)
    assert endpoints() == before, "all or nothing: no URL was updated either"


def test_dry_run_prints_the_file_and_changes_nothing(httpat_db: Path) -> None:
    stdout, _ = register("--dry-run")
    assert '[endpoints."ims.release-roll"]' in stdout
    assert 'url = "http://ims.test/ims/rolls/{roll}/release/"' in stdout
    assert not httpat_db.exists(), "httpat was not even run"


def test_a_header_httpat_refuses_is_a_command_error_with_its_message(
    settings: Any, httpat_db: Path
) -> None:
    settings.HTTPAT_HEADERS = {"Authorization": "Bearer $IMS_TOKEN"}
    with pytest.raises(CommandError) as refused:
        register()
    assert refused.value.returncode == 2
    message = str(refused.value)
    assert message.startswith("httpat register: ") and "${IMS_TOKEN}" in message, message
    assert "httpat: " not in message


def test_a_literal_credential_is_registered_with_httpats_warning(
    settings: Any, endpoints: Endpoints
) -> None:
    settings.HTTPAT_HEADERS = {"Authorization": "Bearer abc123"}
    _, stderr = register()
    assert "httpat: " in stderr and "Authorization" in stderr, stderr
    assert endpoints()["ping"]["headers"] == ["Authorization: Bearer abc123"]


def test_default_signing_secrets_sign_every_path_without_its_own(
    settings: Any, endpoints: Endpoints
) -> None:
    settings.HTTPAT_SIGNING_SECRETS = ["${IMS_SIGNING_SECRET}", "${IMS_SIGNING_NEW}"]
    register()
    signing = {name: entry["signing_secrets"] for name, entry in endpoints().items()}
    both = ["${IMS_SIGNING_SECRET}", "${IMS_SIGNING_NEW}"]
    assert signing == {
        name: ["${IMS_SIGNING_SECRET}"] if name == "ims.seal-roll" else both
        for name in EXPECTED_ROUTES
    }

    settings.HTTPAT_SIGNING_SECRETS = ["${IMS_SIGNING_NEW}"]
    stdout, _ = register()
    assert lines(stdout) == sorted(
        [
            *changes("updated: signing_secrets", set(EXPECTED_ROUTES) - {"ims.seal-roll"}),
            "ims.seal-roll: unchanged",
        ]
    )


def test_a_signing_secret_that_is_no_reference_is_a_command_error_and_runs_nothing(
    settings: Any, httpat_db: Path
) -> None:
    settings.HTTPAT_SIGNING_SECRETS = ["whsec_dGVzdHMtb25seSBzaWduaW5nIGtleQ=="]
    with pytest.raises(CommandError, match="^HTTPAT_SIGNING_SECRETS: .* not a variable") as refused:
        register()
    assert "whsec_" not in str(refused.value)
    settings.HTTPAT_SIGNING_SECRETS = {"key": "${IMS_SIGNING_SECRET}"}
    with pytest.raises(CommandError, match="HTTPAT_SIGNING_SECRETS must be a list"):
        register()
    assert not httpat_db.exists(), "httpat was not even run"


def test_no_base_url_is_a_command_error_naming_the_setting(settings: Any) -> None:
    del settings.HTTPAT_BASE_URL
    with pytest.raises(CommandError, match="HTTPAT_BASE_URL"):
        register()


def test_manage_py_exits_non_zero_with_httpats_message(httpat_bin: str, tmp_path: Path) -> None:
    """The command as a deploy step runs it, with httpat's settings from the environment."""
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "HTTPAT_BIN": httpat_bin,
        "HTTPAT_DB": str(blocked / "httpat.db"),
    }
    command = [sys.executable, "-m", "django", "register_schedulable_paths"]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 1, finished
    assert "httpat register: " in finished.stderr and "a-file" in finished.stderr, finished
    assert "Traceback" not in finished.stderr

    env["HTTPAT_DB"] = str(tmp_path / "httpat.db")
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished
    assert lines(finished.stdout) == changes("created")
