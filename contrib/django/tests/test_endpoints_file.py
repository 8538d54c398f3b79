"""The endpoints file written for httpat is TOML that reads back as exactly what was meant:
strings escaped, names with `.` quoted, default headers merged with each path's own."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from httpat_django.endpoints_file import endpoints_file, toml_string
from httpat_django.registry import schedulable_endpoints

tomllib: ModuleType | None
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

pytestmark = pytest.mark.skipif(tomllib is None, reason="tomllib reads TOML from Python 3.11")

AWKWARD = [
    "",
    "plain",
    'a "quoted" word',
    "back\\slash and \\n not a newline",
    "line\nbreak, tab\t, return\r, bell\x07, escape\x1b, delete\x7f, nul\x00",
    "${IMS_TOKEN} and $$ kept as they are",
    "caf\u00e9 \u2014 \U0001f9fb",
    '\'single\' and """ triple',
    "# not a comment = not a key",
]


def read(text: str) -> dict[str, Any]:
    assert tomllib is not None
    parsed: dict[str, Any] = tomllib.loads(text)
    return parsed


@pytest.mark.parametrize("text", AWKWARD)
def test_a_string_reads_back_as_itself(text: str) -> None:
    assert read(f"value = {toml_string(text)}\n") == {"value": text}


def test_the_test_projects_file_reads_back_as_its_schedulable_paths() -> None:
    text = endpoints_file(
        schedulable_endpoints(),
        base_url="https://ims.example/app/",
        default_headers={"Authorization": "Bearer ${IMS_TOKEN}", "X-Line": "3"},
        urlconf="testproject.urls",
    )
    common = ["Authorization: Bearer ${IMS_TOKEN}", "X-Line: 3"]
    assert read(text) == {
        "endpoints": {
            "ims.release-roll": {
                "url": "https://ims.example/app/ims/rolls/{roll}/release/",
                "method": "POST",
                "headers": common,
                "timeout": "10s",
                "max_attempts": 8,
                "success": "2xx,409",
                "description": 'Move a cooled roll to the "batching" inbox',
            },
            "ims.seal-roll": {
                "url": "https://ims.example/app/ims/rolls/{roll}/seal/",
                "method": "POST",
                # Signed instead of the Bearer token: Authorization dropped, X-Line kept.
                "headers": ["X-Line: 3"],
                "signing_secrets": ["${IMS_SIGNING_SECRET}"],
            },
            "ims.lines.seal-batch": {
                "url": "https://ims.example/app/ims/lines/{line}/batches/{batch}/seal/",
                "method": "PUT",
                "headers": common,
                "timeout": "5500ms",
                "success": "200,204,409",
            },
            "ims.print-label": {
                "url": "https://ims.example/app/ims/labels/{label}/print/",
                "method": "POST",
                # `authorization: None` drops the default whatever its case; its own is added.
                "headers": ["X-Line: 3", "X-Printer-Key: ${PRINTER_KEY}"],
                "max_in_flight": 1,
                "rate": "30/m",
            },
            "ims.export": {
                "url": "https://ims.example/app/ims/exports/{folder}",
                "method": "GET",
                "headers": common,
                "deprecated": True,
                "deprecated_reason": "use the nightly export",
            },
            "weigh-roll": {
                "url": "https://ims.example/app/api/{version}/rolls/{roll}/weigh/",
                "method": "POST",
                "headers": common,
            },
            "ping": {
                "url": "https://ims.example/app/health/ping/",
                "method": "GET",
                "headers": common,
            },
        }
    }


def test_awkward_values_survive_the_file() -> None:
    from httpat_django import schedulable_path
    from httpat_django.registry import SchedulableEndpoint
    from ims import views

    pattern = schedulable_path(
        "x/", views.ping, name="x", description=AWKWARD[4], headers={"X-Odd": AWKWARD[2]}
    )
    endpoint = SchedulableEndpoint(
        name="a.b", url_name="a:b", route="x/", view="v", options=pattern.endpoint
    )
    text = endpoints_file(
        [endpoint], base_url="http://h", default_headers={}, urlconf="u\nnot a key = 1"
    )
    entry = read(text)["endpoints"]["a.b"]
    assert entry["description"] == AWKWARD[4]
    assert entry["headers"] == [f"X-Odd: {AWKWARD[2]}"]
    assert set(read(text)) == {"endpoints"}


def test_default_signing_secrets_sign_every_path_that_names_none_of_its_own() -> None:
    from httpat_django import schedulable_path
    from httpat_django.registry import SchedulableEndpoint
    from ims import views

    declared = {
        "default": schedulable_path("a/", views.ping, name="a"),
        "own": schedulable_path("b/", views.ping, name="b", signing_secrets="${B_KEY}"),
        "unsigned": schedulable_path("c/", views.ping, name="c", signing_secrets=[]),
    }
    text = endpoints_file(
        [
            SchedulableEndpoint(name=name, url_name=name, route="x/", view="v", options=p.endpoint)
            for name, p in declared.items()
        ],
        base_url="http://h",
        default_headers={},
        urlconf="u",
        default_signing_secrets=["${IMS_SIGNING_SECRET}", "${IMS_SIGNING_NEW}"],
    )
    entries = read(text)["endpoints"]
    assert entries["default"]["signing_secrets"] == ["${IMS_SIGNING_SECRET}", "${IMS_SIGNING_NEW}"]
    assert entries["own"]["signing_secrets"] == ["${B_KEY}"]
    assert "signing_secrets" not in entries["unsigned"]
