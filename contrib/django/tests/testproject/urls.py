from django.urls import include, path, re_path

from httpat_django import schedulable_path
from ims import views

urlpatterns = [
    path("ims/", include("ims.urls")),
    re_path(r"^api/(?P<version>v[0-9]+)/", include("ims.api")),
    schedulable_path("health/ping/", views.ping, name="ping", method="GET"),
    path("about/", views.ping, name="about"),
]
