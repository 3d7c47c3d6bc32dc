class InboxError(Exception):
    """A request the rules refuse; `field` names the input it concerns, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAMember(InboxError):
    """The user may not see this inbox."""
