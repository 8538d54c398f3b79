"""`manage.py register_schedulable_paths [--prune] [--dry-run]`: httpat's registry matches the
schedulable paths of `ROOT_URLCONF`, through `httpat register --file -` (all or nothing)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from httpat_django import binary, conf
from httpat_django.endpoints_file import endpoints_file
from httpat_django.errors import HttpatError, HttpatTimeout
from httpat_django.registry import schedulable_endpoints


class Command(BaseCommand):
    help = (
        "Make httpat's registry match the schedulable paths of ROOT_URLCONF, in one "
        "transaction (httpat register --file -), and print what changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--prune",
            action="store_true",
            help="also remove every endpoint the URLconf does not declare, including ones "
            "registered by other means; httpat refuses to remove one with unfinished tasks "
            "unless it was deprecated first",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print the endpoints file that would be fed to httpat, and change nothing",
        )

    def handle(self, *args: Any, prune: bool, dry_run: bool, **options: Any) -> None:
        try:
            endpoints = schedulable_endpoints()
            text = endpoints_file(
                endpoints,
                base_url=conf.base_url(),
                default_headers=conf.default_headers(),
                urlconf=str(settings.ROOT_URLCONF),
                default_signing_secrets=conf.default_signing_secrets(),
            )
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        if dry_run:
            self.stdout.write(text, ending="")
            return
        if not endpoints:
            if prune:
                raise CommandError(
                    f"the URLconf {settings.ROOT_URLCONF} has no schedulable paths: refusing to "
                    "--prune every endpoint from httpat's registry"
                )
            self.stderr.write(f"the URLconf {settings.ROOT_URLCONF} has no schedulable paths")
            return
        command = ["register", "--file", "-", *(["--prune"] if prune else [])]
        try:
            answer = binary.run(command, stdin=text)
        except HttpatError as error:
            raise CommandError(f"httpat register: {error.message}", returncode=error.code) from None
        except (ImproperlyConfigured, HttpatTimeout) as error:
            raise CommandError(str(error)) from None
        for note in answer.notes:
            self.stderr.write(f"httpat: {note}")
        self.stdout.write(answer.stdout, ending="")
