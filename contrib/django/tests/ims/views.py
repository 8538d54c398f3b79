"""The IMS's views: recording a roll schedules its release; the release needs the Bearer token,
and sealing a roll needs httpat's signature."""

import json

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from standardwebhooks import Webhook, WebhookVerificationError

from httpat_django import schedule

from .models import Roll


@csrf_exempt
@require_POST
def record_roll(request: HttpRequest) -> JsonResponse:
    """A roll left the line: record it and schedule its release once it has cooled. In one
    transaction, so that a refusal from httpat records no roll without its cool-down."""
    number = request.POST["number"]
    with transaction.atomic():
        Roll.objects.create(number=number)
        task = schedule(
            "ims:release-roll",
            delay=settings.IMS_COOL_DOWN,
            args={"roll": number},
            key=f"cool:{number}",
        )
    return JsonResponse({"roll": number, "task": task}, status=201)


@csrf_exempt
@require_POST
def release_roll(request: HttpRequest, roll: str) -> JsonResponse:
    """Moves a cooled roll to the batching inbox; 409 when it already was."""
    if request.headers.get("Authorization") != f"Bearer {settings.IMS_TOKEN}":
        return JsonResponse({"error": "a valid Bearer token is required"}, status=401)
    body = json.loads(request.body)
    if body.get("roll") != roll:
        return JsonResponse({"error": "the body names another roll"}, status=400)
    found = get_object_or_404(Roll, number=roll)
    if found.released_at is not None:
        return JsonResponse({"error": f"roll {roll} was already released"}, status=409)
    found.released_at = timezone.now()
    found.save(update_fields=["released_at"])
    return JsonResponse({"roll": roll, "released_at": found.released_at.isoformat()})


@csrf_exempt
@require_POST
def seal_roll(request: HttpRequest, roll: str) -> HttpResponse:
    webhook = Webhook(settings.IMS_SIGNING_SECRET)  # the tick's ${IMS_SIGNING_SECRET}: whsec_...
    try:
        webhook.verify(request.body, dict(request.headers), json_parse=False)
    except (WebhookVerificationError, ValueError):  # ValueError: a malformed signature header
        return HttpResponseForbidden("a valid webhook signature is required")
    found = get_object_or_404(Roll, number=roll)
    found.sealed_at = timezone.now()
    found.save(update_fields=["sealed_at"])
    return JsonResponse({"roll": roll, "sealed_at": found.sealed_at.isoformat()})


@csrf_exempt
def seal_batch(request: HttpRequest, line: int, batch: str) -> HttpResponse:
    return HttpResponse(status=204)


@csrf_exempt
def print_label(request: HttpRequest, label: object) -> HttpResponse:
    return HttpResponse(status=204)


def export(request: HttpRequest, folder: str) -> HttpResponse:
    return HttpResponse(status=204)


@csrf_exempt
def weigh_roll(request: HttpRequest, version: str, roll: str) -> HttpResponse:
    return HttpResponse(status=204)


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse("pong")
