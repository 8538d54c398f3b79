"""`testproject.urls` after the ping view was removed."""

from django.urls import include, path, re_path

urlpatterns = [
    path("ims/", include("ims.urls")),
    re_path(r"^api/(?P<version>v[0-9]+)/", include("ims.api")),
]
