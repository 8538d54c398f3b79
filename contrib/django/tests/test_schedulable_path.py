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
from httpat_django.registry import schedulable_endpoints
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
