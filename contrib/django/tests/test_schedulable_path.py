"""`schedulable_path()` is Django's `path()` to Django, and the schedulable paths of a URLconf are
found below every include(), with their namespaces and converters."""

from __future__ import annotations

import re
import uuid
from types import ModuleType

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import Resolver404, URLPattern, include, path, resolve, reverse

from expected import EXPECTED_ROUTES
from httpat_django import SchedulableURLPattern, schedulable_path
from httpat_django.endpoints_file import endpoints_file
from httpat_django.registry import SchedulableEndpoint, schedulable_endpoints
from ims import urls as ims_urls
from ims import views


def urlconf(patterns: list[object]) -> ModuleType:
    """A URLconf module holding `patterns`."""
    module = ModuleType("tests_urlconf")
    module.urlpatterns = patterns  # type: ignore[attr-defined]
    return module


# A value each placeholder's converter accepts, as reverse() takes it.
SAMPLES: dict[str, object] = {
    "roll": "CCT-0042",
    "line": 3,
    "batch": "b-7",
    "label": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "folder": "2026/11",
    "version": "v2",
}


def test_it_is_a_url_pattern_that_django_resolves_and_reverses() -> None:
    pattern = next(p for p in ims_urls.urlpatterns if getattr(p, "name", "") == "release-roll")
    assert isinstance(pattern, SchedulableURLPattern) and isinstance(pattern, URLPattern)
    match = resolve("/ims/rolls/CCT-0042/release/")
    assert match.func is views.release_roll
    assert match.view_name == "ims:release-roll"
    assert match.kwargs == {"roll": "CCT-0042"}
    assert reverse("ims:lines:seal-batch", kwargs={"line": 3, "batch": "b-7"}) == (
        "/ims/lines/3/batches/b-7/seal/"
    )
    # Without its trailing slash the URL is not this view's (Django would redirect it).
    with pytest.raises(Resolver404):
        resolve("/ims/rolls/CCT-0042/release")


def test_the_schedulable_paths_are_found_below_includes_with_namespaces_and_converters() -> None:
    found = schedulable_endpoints()
    assert {endpoint.name: endpoint.route for endpoint in found} == EXPECTED_ROUTES
    by_name = {endpoint.name: endpoint for endpoint in found}
    assert by_name["ims.lines.seal-batch"].url_name == "ims:lines:seal-batch"
    assert by_name["ims.release-roll"].view == "ims.views.release_roll"
    assert by_name["ims.release-roll"].options.max_attempts == 8
    # Plain path()s are not endpoints.
    assert "about" not in by_name and "ims.record-roll" not in by_name


def test_each_route_filled_with_arguments_is_the_url_reverse_gives() -> None:
    for endpoint in schedulable_endpoints():
        names = re.findall(r"\{(\w+)\}", endpoint.route)
        kwargs = {name: SAMPLES[name] for name in names}
        filled = endpoint.route
        for name, value in kwargs.items():
            filled = filled.replace("{" + name + "}", str(value))
        assert "/" + filled == reverse(endpoint.url_name, kwargs=kwargs), endpoint


def test_literal_text_of_a_route_is_quoted_as_reverse_quotes_it() -> None:
    odd = urlconf([schedulable_path("caf\u00e9 {x}/<int:n>/", views.ping, name="odd")])
    [endpoint] = schedulable_endpoints(odd)
    assert endpoint.route == "caf%C3%A9%20%7Bx%7D/{n}/"
    assert "/" + endpoint.route.replace("{n}", "5") == reverse("odd", odd, kwargs={"n": 5})


def test_the_options_take_python_values() -> None:
    from datetime import timedelta

    pattern = schedulable_path(
        "x/",
        views.ping,
        name="x",
        method="patch",
        timeout=timedelta(minutes=2),
        success=["2xx", 409],
        deprecated=True,
    )
    assert pattern.endpoint.method == "PATCH"
    assert pattern.endpoint.timeout == "120s"
    assert pattern.endpoint.success == "2xx,409"
    assert pattern.endpoint.deprecated == ""
    assert pattern.endpoint.signing_secrets is None, "None: settings.HTTPAT_SIGNING_SECRETS"
    assert (pattern.endpoint.max_in_flight, pattern.endpoint.rate) == (None, None)

    signed = schedulable_path(
        "y/", views.ping, name="y", signing_secrets="${KEY}", max_in_flight=2, rate="10/s"
    )
    assert signed.endpoint.signing_secrets == ("${KEY}",), "a single string is one reference"
    assert (signed.endpoint.max_in_flight, signed.endpoint.rate) == (2, "10/s")
    rotating = schedulable_path("z/", views.ping, name="z", signing_secrets=iter(["${A}", "${B}"]))
    assert rotating.endpoint.signing_secrets == ("${A}", "${B}")


def write(defaults: object = (), **options: object) -> str:
    """The endpoints file for one path declared with `options`."""
    pattern = schedulable_path("x/", views.ping, name="x", **options)  # type: ignore[arg-type]
    endpoint = SchedulableEndpoint(
        name="ims.x", url_name="ims:x", route="x/", view="v", options=pattern.endpoint
    )
    return endpoints_file(
        [endpoint],
        base_url="http://h",
        default_headers={},
        urlconf="u",
        default_signing_secrets=defaults,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"signing_secrets": ["$IMS_SIGNING_SECRET"]}, "^ims:x: the signing secret … is not a"),
        ({"signing_secrets": ["${IMS SIGNING}"]}, r"'\$\{IMS SIGNING\}' is not a variable ref"),
        ({"signing_secrets": ["Bearer ${KEY}"]}, r"'Bearer \$\{KEY\}' is not a variable ref"),
        ({"signing_secrets": [b"${KEY}"]}, "the signing secret … is not a variable reference"),
        ({"signing_secrets": ["${A}", "${B}", "${A}"]}, r"'\$\{A\}' is given twice"),
        ({"max_in_flight": 0}, "^ims:x: max_in_flight must be at least 1 .*, not 0$"),
        ({"max_in_flight": -3}, "max_in_flight must be at least 1"),
        ({"max_in_flight": "2"}, "^ims:x: max_in_flight must be an integer, not '2'$"),
        ({"max_in_flight": True}, "max_in_flight must be an integer, not True"),
        ({"max_in_flight": 1.5}, "max_in_flight must be an integer"),
        ({"rate": "10"}, "^ims:x: rate must be 'N/s', 'N/m' or 'N/h' .*, not '10'$"),
        ({"rate": "0/s"}, "rate must be .* with N at least 1 .*, not '0/s'"),
        ({"rate": "10/d"}, "not '10/d'"),
        ({"rate": "10 / s"}, "not '10 / s'"),
        ({"rate": "1.5/s"}, "not '1.5/s'"),
        ({"rate": 10}, "rate must be 'N/s', 'N/m' or 'N/h'.*, not 10$"),
    ],
    ids=[
        "secret-without-braces",
        "secret-not-a-name",
        "secret-with-text-around",
        "secret-not-a-string",
        "secret-twice",
        "in-flight-zero",
        "in-flight-negative",
        "in-flight-string",
        "in-flight-bool",
        "in-flight-float",
        "rate-without-window",
        "rate-zero",
        "rate-per-day",
        "rate-with-spaces",
        "rate-fraction",
        "rate-not-a-string",
    ],
)
def test_options_httpat_would_refuse_are_refused_naming_the_path(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        write(**options)


def test_a_literal_signing_key_is_refused_without_being_repeated() -> None:
    key = "whsec_dGVzdHMtb25seSBzaWduaW5nIGtleQ=="
    with pytest.raises(ImproperlyConfigured) as refused:
        write(signing_secrets=[key])
    assert key not in str(refused.value) and "'${VAR}'" in str(refused.value)
    with pytest.raises(ImproperlyConfigured, match="^HTTPAT_SIGNING_SECRETS: ") as refused:
        write(defaults=[key])
    assert key not in str(refused.value)


def test_limits_and_signing_secrets_are_written_with_httpats_keys() -> None:
    text = write(signing_secrets=["${OLD}", "${NEW}"], max_in_flight=4, rate="100/h")
    assert 'signing_secrets = ["${OLD}", "${NEW}"]\n' in text
    assert "max_in_flight = 4\n" in text
    assert 'rate = "100/h"\n' in text
    assert "signing_secrets" not in write(defaults=["${KEY}"], signing_secrets=[])


def test_include_and_a_missing_name_are_refused() -> None:
    with pytest.raises(TypeError, match="not include"):
        schedulable_path("ims/", include("ims.urls"), name="ims")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        schedulable_path("x/", views.ping, name="")


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        (
            [
                schedulable_path("a/", views.ping, name="same"),
                schedulable_path("b/", views.ping, name="same"),
            ],
            "'a/'.*'b/'.*both be the endpoint 'same'",
        ),
        (
            [
                path("ims/", include(([schedulable_path("x/", views.ping, name="y")], "ims"))),
                schedulable_path("z/", views.ping, name="ims.y"),
            ],
            "both be the endpoint 'ims.y'",
        ),
        (
            [schedulable_path("a/", views.ping, name="release roll")],
            "'release roll'.*letters, digits",
        ),
    ],
)
def test_names_httpat_cannot_tell_apart_or_take_are_refused(
    patterns: list[object], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        schedulable_endpoints(urlconf(patterns))
