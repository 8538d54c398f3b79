from datetime import timedelta

from django.urls import include, path

from httpat_django import schedulable_path

from . import views

app_name = "ims"

line_patterns = (
    [
        schedulable_path(
            "batches/<slug:batch>/seal/",
            views.seal_batch,
            name="seal-batch",
            method="put",
            timeout=timedelta(seconds=5, milliseconds=500),
            success=[200, 204, 409],
        ),
    ],
    "lines",
)

urlpatterns = [
    path("rolls/", views.record_roll, name="record-roll"),
    schedulable_path(
        "rolls/<str:roll>/release/",
        views.release_roll,
        name="release-roll",
        timeout="10s",
        max_attempts=8,
        success="2xx,409",
        description='Move a cooled roll to the "batching" inbox',
    ),
    schedulable_path(
        "rolls/<str:roll>/seal/",
        views.seal_roll,
        name="seal-roll",
        headers={"Authorization": None},  # the signature stands in for the Bearer token
        signing_secrets=["${IMS_SIGNING_SECRET}"],
    ),
    path("lines/<int:line>/", include(line_patterns, namespace="lines")),
    schedulable_path(
        "labels/<uuid:label>/print/",
        views.print_label,
        name="print-label",
        headers={"authorization": None, "X-Printer-Key": "${PRINTER_KEY}"},
        max_in_flight=1,
        rate="30/m",
    ),
    schedulable_path(
        "exports/<path:folder>",
        views.export,
        name="export",
        method="GET",
        deprecated="use the nightly export",
    ),
]
