"""What can go wrong when httpat is called, as exceptions a caller can tell apart."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

__all__ = ["HttpatError", "HttpatNotFound", "HttpatTimeout"]

USAGE = 2
REFUSED = 3


class HttpatError(Exception):
    """httpat ran and did not do what was asked: its exit code and its message.

    `code` is 1 when httpat could not do its work (its database, a bug), 2 for bad input
    (`usage`) and 3 when the current state refuses it (`refused`: an unknown or deprecated
    endpoint, a key taken by another task, cancelling a finished task). In every case httpat
    changed nothing.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def usage(self) -> bool:
        """Bad input: a missing URL argument, a malformed time, an invalid header."""
        return self.code == USAGE

    @property
    def refused(self) -> bool:
        """Well-formed but refused by the current state."""
        return self.code == REFUSED

    def __str__(self) -> str:
        return f"{self.message} (httpat exit {self.code})"


class HttpatNotFound(ImproperlyConfigured):
    """The httpat binary cannot be run: a deployment's fault, not a request's, so it is not an
    `HttpatError` that a view might catch and carry on."""


class HttpatTimeout(TimeoutError):
    """httpat did not answer within `HTTPAT_TIMEOUT`. Whether it took effect is unknown: a
    `schedule()` given a `key` can simply be called again."""
