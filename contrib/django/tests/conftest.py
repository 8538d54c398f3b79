"""Shared fixtures: the real httpat binary (`HTTPAT_BIN`, else built with `cargo build
--release`), a fresh httpat database per test, and a way to ask httpat directly what it holds,
without going through the package under test."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]

Httpat = Callable[..., Any]


@pytest.fixture(scope="session")
def httpat_bin() -> str:
    """The binary under test: `HTTPAT_BIN` as given, else this repository's release build."""
    given = os.environ.get("HTTPAT_BIN")
    if given:
        return given
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--bin", "httpat"],
        cwd=REPOSITORY,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    return str((REPOSITORY / target / "release" / "httpat").resolve())


@pytest.fixture
def httpat_db(tmp_path: Path) -> Path:
    return tmp_path / "httpat" / "httpat.db"


@pytest.fixture(autouse=True)
def _httpat_settings(
    settings: Any, httpat_bin: str, httpat_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own httpat database, whatever the environment it was started in."""
    settings.HTTPAT_BIN = httpat_bin
    settings.HTTPAT_DB = str(httpat_db)
    for name in ("HTTPAT_BIN", "HTTPAT_DB", "HTTPAT_TIMEOUT", "HTTPAT_BASE_URL", "HTTPAT_NOW"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def httpat(httpat_bin: str, httpat_db: Path) -> Httpat:
    """Runs the binary on the test's database and returns the finished process; with
    `json=True` its stdout is parsed instead."""

    def run(*arguments: str, json_output: bool = False, env: dict[str, str] | None = None) -> Any:
        command = [httpat_bin, "--db", str(httpat_db)]
        if json_output:
            command.append("--json")
        finished = subprocess.run(
            [*command, *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
            check=False,
        )
        if json_output:
            assert finished.returncode == 0, finished.stderr
            return json.loads(finished.stdout)
        return finished

    return run


@pytest.fixture
def endpoints(httpat: Httpat) -> Callable[[], dict[str, dict[str, Any]]]:
    """The registry as `httpat endpoints --json` gives it, by name."""

    def registered() -> dict[str, dict[str, Any]]:
        return {entry["name"]: entry for entry in httpat("endpoints", json_output=True)}

    return registered
