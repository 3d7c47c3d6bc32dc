"""The production settings mode: `check --deploy` is clean and unsafe setups refuse to start."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INBOX_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        INBOX_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="inbox.example.com",
        INBOX_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = manage(
        "check", INBOX_ENV="production", ALLOWED_HOSTS="x.example.com", INBOX_VAR_DIR=str(tmp_path)
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required when INBOX_ENV=production" in result.stderr


def test_development_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = manage("shell", "-v", "0", "-c", code, INBOX_VAR_DIR=str(tmp_path))
    second = manage("shell", "-v", "0", "-c", code, INBOX_VAR_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and len(first.stdout.strip()) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_bad_boolean_is_a_clear_error(tmp_path: Path) -> None:
    result = manage("check", DEBUG="maybe", INBOX_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_production_static_files_hash_module_imports(tmp_path: Path) -> None:
    """collectstatic works in production mode and the agent UI's ES modules import each
    other by hashed name (this fails if static/js/inbox/ grows an import cycle)."""
    result = manage(
        "collectstatic",
        "--noinput",
        "-v",
        "0",
        INBOX_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="inbox.example.com",
        INBOX_VAR_DIR=str(tmp_path),
        STATIC_ROOT=str(tmp_path / "static"),
    )
    assert result.returncode == 0, result.stderr
    entry = next(
        p
        for p in (tmp_path / "static/js/inbox").glob("app.*.js")
        if p.suffix == ".js" and p.name.count(".") == 2
    )
    assert re.search(r'from "\./dom\.[0-9a-f]{12}\.js"', entry.read_text())
