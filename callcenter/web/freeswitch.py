"""Endpoints FreeSWITCH calls over HTTP with its basic credentials: mod_json_cdr posts (and,
later, the mod_xml_curl directory)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("freeswitch", __name__, url_prefix="/freeswitch")
