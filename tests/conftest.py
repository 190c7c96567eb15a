"""Shared fixtures: the app, its test client, and its CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app import create_app
from app.content import DEFAULT_CONTENT_DIR


@pytest.fixture
def app_config(tmp_path: Path) -> dict:
    """The test configuration; tests may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture
def app(app_config: dict):
    return create_app(app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the real content folder, for breaking on purpose."""
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target
