"""The product's error kinds. Any layer raises them; the web app maps each kind to its HTTP
status once (callcenter/app.py): JSON under /api, the error page elsewhere.

Each module keeps its own error where it helps to catch it by name (esl.commands.CommandError,
switchboard DialError, ...), as a subclass of one of these kinds, so the kind alone decides
the status. The message is written for the person who asked: the page shows it as it is.

A leaf module: it imports neither Flask nor gevent, so esl/ and the switchboard may use it.
"""

from __future__ import annotations


class ProductError(Exception):
    """Something the product refuses or cannot do now, with a message for a person."""
    status = 500


class InvalidInput(ProductError, ValueError):
    """The input is wrong: 422. `field` names what is wrong (None: the request as a whole)."""
    status = 422

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field and reason else field or reason)


class NotFound(ProductError):
    """There is no such thing (or none this person may know of): 404."""
    status = 404


class Forbidden(ProductError):
    """This person may not do this: 403."""
    status = 403


class Conflict(ProductError):
    """Not possible now, in the state things are in (a call that ended, an agent on a call):
    409. Trying again later, or after changing something, may work."""
    status = 409


class Unavailable(ProductError):
    """Something the product needs cannot be reached right now (FreeSWITCH, the database):
    503. Nothing was done; trying again shortly may work."""
    status = 503


class CallEnded(Conflict):
    """Any control, hanging up included, on a call that has already ended."""

    def __init__(self) -> None:
        super().__init__("this call has already ended")


__all__ = ["CallEnded", "Conflict", "Forbidden", "InvalidInput", "NotFound", "ProductError",
           "Unavailable"]
