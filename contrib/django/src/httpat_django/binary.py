"""Running the httpat binary: a list of arguments (never a shell), a timeout, its exit code and
`httpat: ...` messages turned into exceptions."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import conf
from .errors import HttpatError, HttpatNotFound, HttpatTimeout

__all__ = ["Answer", "run", "run_json"]

logger = logging.getLogger("httpat_django")

_PREFIX = "httpat: "


@dataclass(frozen=True)
class Answer:
    """What httpat printed when it succeeded: stdout, and the notes it wrote on stderr (a time
    in the past, a key that already names a task, a credential stored literally)."""

    stdout: str
    notes: list[str]


def run(arguments: Sequence[str], *, stdin: str | None = None, json_output: bool = False) -> Answer:
    """Runs `httpat [--json] [--db HTTPAT_DB] ARGUMENTS...`; a non-zero exit raises
    `HttpatError` with httpat's message."""
    program = conf.binary()
    command = [program]
    if json_output:
        command.append("--json")
    database = conf.database()
    if database is not None:
        command += ["--db", database]
    command += arguments
    limit = conf.timeout()
    try:
        finished = subprocess.run(
            command,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=limit,
            check=False,
        )
    except FileNotFoundError:
        raise HttpatNotFound(
            f"httpat was not found at {program!r}: install it, or set HTTPAT_BIN (in settings "
            "or the environment) to the path of the httpat binary"
        ) from None
    except PermissionError as error:
        raise HttpatNotFound(
            f"httpat at {program!r} cannot be run ({error.strerror}): set HTTPAT_BIN (in "
            "settings or the environment) to the path of the httpat binary"
        ) from None
    except subprocess.TimeoutExpired:
        raise HttpatTimeout(
            f"httpat {arguments[0]} did not finish within {limit:g}s (HTTPAT_TIMEOUT); "
            "whether it took effect is unknown"
        ) from None
    message = _message(finished.stderr)
    if finished.returncode != 0:
        if finished.returncode < 0:
            message = message or f"httpat was killed by signal {-finished.returncode}"
        raise HttpatError(finished.returncode, message or "httpat failed without a message")
    return Answer(finished.stdout, message.splitlines())


def run_json(arguments: Sequence[str], *, stdin: str | None = None) -> Any:
    """`run` with `--json`: httpat's one JSON document, parsed; its notes are logged as
    warnings of the `httpat_django` logger, since a caller in a view has no stderr to read."""
    answer = run(arguments, stdin=stdin, json_output=True)
    for note in answer.notes:
        logger.warning("httpat %s: %s", arguments[0], note)
    try:
        return json.loads(answer.stdout)
    except json.JSONDecodeError as error:
        raise HttpatError(1, f"httpat {arguments[0]} --json printed no JSON ({error})") from None


def _message(stderr: str) -> str:
    """httpat's stderr without its `httpat: ` prefixes."""
    lines = (line.removeprefix(_PREFIX) for line in stderr.strip().splitlines())
    return "\n".join(line for line in lines if line)
