"""Errors the user can act on. Each message is one line that says what to do."""


class UserError(Exception):
    """Bad input or an unusable environment: shown as one line, exit code 2, nothing stored is harmed."""

    exit_code = 2


class NotFound(UserError):
    pass
