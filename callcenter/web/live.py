"""The live socket: browsers receive the switchboard's pushes over a flask-sock WebSocket."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("live", __name__)
