"""Endpoints FreeSWITCH calls over HTTP with its basic credentials: mod_json_cdr posts and the
mod_xml_curl directory."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from ..credentials import Credentials
from ..switchboard.cdr import CdrError, LegRecord, json_cdr_text, write_leg
from .access import freeswitch
from .directory import DirectoryRequestError, answer_lookup

log = logging.getLogger(__name__)

bp = Blueprint("freeswitch", __name__, url_prefix="/freeswitch")


@bp.post("/cdr")
@freeswitch
def json_cdr():
    """One leg's CDR from mod_json_cdr (`<url>?uuid=<leg>`; raw JSON, `encode=true` or base64).

    FreeSWITCH retries anything but a 2xx and then leaves the file in its err-log-dir, for
    `callcenter cdr import`: a leg that is not ours is answered 200 so it is not kept forever;
    a body we cannot read gets 400 naming the problem; a database error 503, nothing written.
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
    session = current_app.extensions["callcenter"].db_session()
    try:
        call = write_leg(session, record)
        if call is None:
            session.rollback()
            return jsonify(ignored=f"leg {record.uuid} has no cc_call_id: not a call-center leg")
        call_id = call.id
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        log.error("json_cdr for leg %s not written: %s", record.uuid,
                  (str(exc).splitlines() or [type(exc).__name__])[0])
        return jsonify(error="the database is unavailable; nothing was written"), 503
    return jsonify(call_id=call_id, leg=record.uuid)


@bp.post("/directory")
@freeswitch
def directory():
    """mod_xml_curl's directory lookups: a REGISTER (`action=sip_auth`) or `originate user/EXT`
    (`action=user_call`) of an agent with a live SIP credential gets its user entry; anything
    else "not found", and FreeSWITCH falls back to its static directory. A post we cannot read
    gets 400 naming the problem (FreeSWITCH treats any error as not found)."""
    services = current_app.extensions["callcenter"]
    credentials = Credentials.of(services.settings, services.switchboard)
    try:
        document = answer_lookup(request.form, credentials, services.db_session())
    except DirectoryRequestError as exc:
        log.warning("directory lookup refused: %s", exc)
        return str(exc) + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
    return document, 200, {"Content-Type": "text/xml; charset=utf-8"}
