from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import PASSWORD, AdminFactory, UserFactory


@pytest.fixture
def admin(db: None) -> User:
    return AdminFactory(name="Ada Admin", email="ada@example.com")


@pytest.fixture
def agent(db: None) -> User:
    return UserFactory(name="Ben Agent", email="ben@example.com")


def _signed_in(user: User) -> Client:
    client = Client()
    response = client.post("/accounts/signin/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


@pytest.fixture
def admin_web(admin: User) -> Client:
    """A browser-like client signed in as the admin through the real sign-in form."""
    return _signed_in(admin)


@pytest.fixture
def agent_web(agent: User) -> Client:
    return _signed_in(agent)


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """api(user) → a REST client authenticated with a real bearer token of `user`."""
    from accounts.actions import create_api_token
    from accounts.origin import SYSTEM

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            _, secret = create_api_token(user=user, name="tests", origin=SYSTEM)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture
def run_tasks(db: None) -> Callable[[], int]:
    """Drain the durable task queue the way `manage.py db_worker` does. Returns how many
    tasks ran. Combine with django_capture_on_commit_callbacks(execute=True) in tests that
    are not transactional, since tasks are enqueued after commit."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    def run() -> int:
        # Worker.run() would call close_old_connections(), which closes the connection
        # holding the test's transaction; drive the same claim-and-run steps instead.
        worker = Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="tests",
            excluded_queue_names=[],
        )
        ran = 0
        while (result := DBTaskResult.objects.ready().first()) is not None:
            result.claim(worker.worker_id)
            worker.run_task(result)
            ran += 1
        failed = DBTaskResult.objects.filter(status="FAILED")
        assert not failed.exists(), [r.traceback for r in failed]
        return ran

    return run


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> None:
    """A layer instance holds asyncio locks bound to the loop that first used it; each test
    (and each pytest-asyncio loop) gets its own instance."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _test_settings(settings: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")  # type: ignore[attr-defined]
    # PBKDF2's deliberate slowness would dominate the suite's run time.
    settings.PASSWORD_HASHERS = [  # type: ignore[attr-defined]
        "django.contrib.auth.hashers.MD5PasswordHasher"
    ]
    # The optional semantic engine is on wherever its model is installed (make test installs
    # it); its own tests turn it on. Elsewhere the drafts are the default engines'.
    settings.DRAFT_ENGINES = [  # type: ignore[attr-defined]
        path
        for path in settings.DRAFT_ENGINES  # type: ignore[attr-defined]
        if not path.endswith("SemanticRanker")
    ]
