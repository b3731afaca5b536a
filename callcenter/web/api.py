"""The JSON API the agent's page calls: dial, in-call controls, status."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")
