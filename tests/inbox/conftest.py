from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from accounts.models import User
from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Inbox
from tests.factories import AdminFactory


@pytest.fixture
def make_inbox(db: None) -> Callable[..., Inbox]:
    """make_inbox(name, members=[users], kind="api") → an inbox created by an admin."""
    creator: list[User] = []

    def make(
        name: str = "Support", *, members: Iterable[User] = (), kind: str = "api", **kwargs: Any
    ) -> Inbox:
        if not creator:
            creator.append(AdminFactory(name="Inbox Creator"))
        return actions.create_inbox(
            name=name, kind=kind, actor=creator[0], origin=SYSTEM, members=list(members), **kwargs
        )

    return make


@pytest.fixture
def inbound() -> Callable[..., actions.InboundResult]:
    """inbound(inbox, "text", sender="cust-1", **kwargs) → a customer message."""

    def send(
        inbox: Inbox,
        text: str = "Hello, I need help",
        *,
        sender: str = "cust-1",
        name: str = "Casey Customer",
        **kwargs: Any,
    ) -> actions.InboundResult:
        return actions.receive_inbound_message(
            inbox=inbox,
            identity=actions.IdentityInput(kind="external", value=sender, name=name),
            text=text,
            **kwargs,
        )

    return send
