"""`testproject.urls` while the key of `ims:seal-roll` is rotated: its requests are signed with
the old key (`${IMS_SIGNING_SECRET}`) and the new one (`${IMS_SIGNING_NEW}`), so that the view
accepts them whichever of the two it knows."""

from django.urls import include, path

from httpat_django import schedulable_path
from ims import views

rolls = (
    [
        schedulable_path(
            "rolls/<str:roll>/seal/",
            views.seal_roll,
            name="seal-roll",
            headers={"Authorization": None},
            signing_secrets=["${IMS_SIGNING_SECRET}", "${IMS_SIGNING_NEW}"],
        ),
    ],
    "ims",
)

urlpatterns = [
    path("ims/", include(rolls)),
]
