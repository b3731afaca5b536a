"""Endpoints FreeSWITCH calls over HTTP with its basic credentials: mod_json_cdr posts, and the
mod_xml_curl directory and public dialplan."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from ..cdr import CdrError, LegRecord, json_cdr_text
from ..cdr.posts import CdrRefused, Filed, file_document
from ..credentials import Credentials
from ..errors import Unavailable
from . import dialplan as public_dialplan
from . import widget
from .access import freeswitch
from .directory import DirectoryRequestError, answer_lookup

log = logging.getLogger(__name__)

bp = Blueprint("freeswitch", __name__, url_prefix="/freeswitch")


@bp.post("/cdr")
@freeswitch
def json_cdr():
    """One leg's CDR from mod_json_cdr (`<url>?uuid=<leg>`; raw JSON, `encode=true` or base64).

    What it may change is cdr_posts.py's rule. FreeSWITCH retries anything but a 2xx `retries`
    times, `delay` seconds apart, then leaves the document in its err-log-dir (the spool
    directory, or `callcenter cdr import`). So: 200 when it is written, was already there, or
    is kept as an unmatched leg (no call owns it); 400 for a body we cannot read, 409 for a
    different document for a leg that has one, 422 for times out of bounds (the file lands in
    rejected/ when it comes back through the spool directory); 503 when the database fails or
    the controller has not written its own row for the leg yet (a retry finds it).
    The body's size is capped by the app's MAX_CONTENT_LENGTH (413 beyond it).
    """
    try:
        record = LegRecord.from_json_cdr(json_cdr_text(request.get_data()))
    except CdrError as exc:
        log.warning("json_cdr post for leg %s refused: %s", request.args.get("uuid"), exc)
        return jsonify(error=str(exc)), 400
    named = request.args.get("uuid")
    if named and named != record.uuid:
        return jsonify(error=f"?uuid={named[:60]} does not match the CDR's leg {record.uuid}"), 400
    services = current_app.extensions["callcenter"]
    session = services.db_session()
    # Decided here, on the hub: the writer's thread reads nothing the switchboard changes.
    unwritten = _unwritten(services)
    not_yet = unwritten is not None and unwritten(record.uuid)

    def filing(writing) -> Filed:
        return file_document(writing, record, now=datetime.now(UTC), source="post",
                             unwritten=None if unwritten is None else lambda _uuid: not_yet)

    # Through the active switchboard's database writer (two posts a call at full load must not
    # wait on SQLite on the hub); a standby's writer is not running, and the tests' stand-ins
    # have none: they file here.
    run_write = getattr(services.switchboard, "run_write", None) if services.active else None
    try:
        if run_write is not None:
            filed = run_write(filing)
        else:
            filed = filing(session)
            session.commit()
    except CdrRefused as exc:
        session.rollback()
        return jsonify(error=str(exc)), 422
    except (SQLAlchemyError, Unavailable) as exc:
        session.rollback()
        log.error("json_cdr for leg %s not written: %s", record.uuid,
                  (str(exc).splitlines() or [type(exc).__name__])[0])
        return jsonify(error="the database is unavailable; nothing was written"), 503
    leg = record.uuid
    if filed is Filed.NOT_YET:
        return jsonify(error=f"leg {leg} is not written yet; send it again"), 503
    if filed is Filed.CONFLICT:
        return jsonify(error=f"leg {leg} already has a different CDR from FreeSWITCH; this one "
                             "was ignored"), 409
    if filed is Filed.UNMATCHED:
        return jsonify(unmatched=leg, note="no call owns this leg: kept for audit as an "
                                           "unmatched leg, nothing changed")
    return jsonify(leg=leg, filed=filed.value)


def _unwritten(services):
    """Which legs may be written later by the active controller. A standby knows no live leg:
    every leg without a row yet is "not yet" (503), and FreeSWITCH tries the next URL."""
    if not services.active:
        return lambda uuid: True
    board = services.switchboard
    return None if board is None else board.unwritten_legs()


@bp.post("/directory")
@freeswitch
def directory():
    """mod_xml_curl's directory lookups: a REGISTER (`action=sip_auth`) or `originate user/EXT`
    (`action=user_call`) of an agent with a live SIP credential gets its user entry, and so does
    a website visitor's INVITE in the guest realm (directory.py); anything else "not found",
    and FreeSWITCH falls back to its static directory. A post we cannot read
    gets 400 naming the problem (FreeSWITCH treats any error as not found)."""
    services = current_app.extensions["callcenter"]
    credentials = Credentials.of(services.settings, services.switchboard)
    try:
        document = answer_lookup(request.form, credentials, services.db_session(),
                                 guest_realm=services.settings.guest_realm,
                                 clock=widget.desk().clock)
    except DirectoryRequestError as exc:
        log.warning("directory lookup refused: %s", exc)
        return str(exc) + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
    return document, 200, {"Content-Type": "text/xml; charset=utf-8"}


@bp.post("/dialplan")
@freeswitch
def dialplan():
    """mod_xml_curl's dialplan lookups: the `public` context from the inbound numbers table
    (web/dialplan.py); "not found" for every other context. A post we cannot read gets 400."""
    session = current_app.extensions["callcenter"].db_session()
    try:
        document = public_dialplan.answer_lookup(request.form, session)
    except public_dialplan.DialplanRequestError as exc:
        log.warning("dialplan lookup refused: %s", exc)
        return str(exc) + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
    return document, 200, {"Content-Type": "text/xml; charset=utf-8"}
