class AccountsError(Exception):
    """A request the rules refuse. `field` names the form field it belongs to, if any;
    the message is safe to show to the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
