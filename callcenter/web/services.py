"""The running controller's services as a request sees them: one place to reach them."""

from __future__ import annotations

from flask import current_app

from ..errors import Unavailable


def services():
    """The app's services (settings, database, switchboard, hub) set up by create_app."""
    return current_app.extensions["callcenter"]


def switchboard():
    """The switchboard; a clear 503 where this process runs none (a web-only process)."""
    board = services().switchboard
    if board is None:
        raise Unavailable("the switchboard is not running in this process")
    return board
