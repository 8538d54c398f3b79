"""Versioned API below a regex prefix (`^api/(?P<version>v[0-9]+)/`), without a namespace."""

from httpat_django import schedulable_path

from . import views

urlpatterns = [
    schedulable_path("rolls/<str:roll>/weigh/", views.weigh_roll, name="weigh-roll"),
]
