"""httpat for Django: declare a view schedulable where its URL is declared, make httpat's
registry match `urlpatterns` with `manage.py register_schedulable_paths`, and schedule requests
to those views from Python."""

from __future__ import annotations

from .errors import HttpatError, HttpatNotFound, HttpatTimeout
from .names import endpoint_name
from .scheduling import Cancellation, Scheduled, cancel, schedule, scheduled, show, tasks
from .urls import EndpointOptions, SchedulableURLPattern, schedulable_path

__all__ = [
    "Cancellation",
    "EndpointOptions",
    "HttpatError",
    "HttpatNotFound",
    "HttpatTimeout",
    "SchedulableURLPattern",
    "Scheduled",
    "cancel",
    "endpoint_name",
    "schedulable_path",
    "schedule",
    "scheduled",
    "show",
    "tasks",
]
