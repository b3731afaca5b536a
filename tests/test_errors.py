"""The product's error kinds (callcenter/errors.py): each module's own errors are one of them, and
the app maps each kind to its status once: JSON under /api, the error page elsewhere."""

from __future__ import annotations

import pytest
from flask import abort

from callcenter import errors
from callcenter.accounts import AccountError
from callcenter.errors import CallEnded, Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from callcenter.esl.commands import CommandError, valid_number
from callcenter.esl.connection import CommandTimeout, ESLError, NotConnected
from callcenter.switchboard import AgentError, ControlError, DialError, SwitchUnavailable
from callcenter.switchboard.disposition import valid_disposition
from callcenter.web.access import public

KINDS = {"invalid": (InvalidInput("at most 64 characters", field="disposition"), 422),
         "missing": (NotFound("no such call"), 404),
         "forbidden": (Forbidden("this is not your call"), 403),
         "conflict": (Conflict("you are already on a call"), 409),
         "unavailable": (Unavailable("the phone system (FreeSWITCH) is unreachable"), 503)}


@pytest.mark.parametrize("error,status", [
    (CommandError("number", "3-20 digits"), 422), (AccountError("password is empty"), 422),
    (DialError("not registered"), 409), (ControlError("already on hold"), 409),
    (CallEnded(), 409), (AgentError("your account is deactivated"), 403),
    (SwitchUnavailable("unreachable"), 503), (ESLError("lost"), 503),
    (NotConnected("no link"), 503), (CommandTimeout("no answer"), 503),
])
def test_every_module_error_is_one_kind_with_its_status(error, status):
    assert isinstance(error, errors.ProductError) and error.status == status


def test_a_dial_while_the_switch_is_down_is_unavailable_not_a_conflict():
    # It was a DialError once, which a 409 handler could have caught first.
    assert not isinstance(SwitchUnavailable("x"), Conflict)


def test_invalid_input_names_its_field_and_stays_a_value_error():
    with pytest.raises(CommandError) as refused:
        valid_number("12", "number")
    assert refused.value.field == "number" and str(refused.value).startswith("number: ")
    with pytest.raises(InvalidInput) as refused:
        valid_disposition("")
    assert refused.value.field == "disposition" and not isinstance(refused.value, CommandError)
    assert isinstance(AccountError("x"), ValueError) and AccountError("x").field is None
    assert str(CallEnded()) == "this call has already ended"


@pytest.fixture
def raising_app(app, admin):
    """The app with one public route per kind, under /api and as a page."""
    def raiser(kind: str):
        raise KINDS[kind][0]
    app.add_url_rule("/api/raise/<kind>", "api_raise", public(raiser))
    app.add_url_rule("/raise/<kind>", "page_raise", public(raiser))
    app.add_url_rule("/api/abort", "api_abort", public(lambda: abort(404)))
    return app


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_one_status_as_json_under_api_and_a_page_elsewhere(raising_app, kind):
    error, status = KINDS[kind]
    client = raising_app.test_client()
    reply = client.get(f"/api/raise/{kind}")
    assert reply.status_code == status
    expected = {"error": str(error)}
    if isinstance(error, InvalidInput):
        expected["field"] = error.field
    assert reply.get_json() == expected
    page = client.get(f"/raise/{kind}")
    assert page.status_code == status and page.mimetype == "text/html"
    assert str(error) in page.get_data(as_text=True)
    # A client asking for JSON gets JSON wherever it asks.
    asked = client.get(f"/raise/{kind}", headers={"Accept": "application/json"})
    assert asked.get_json() == expected


def test_http_errors_take_the_same_way(raising_app):
    reply = raising_app.test_client().get("/api/abort")
    assert reply.status_code == 404 and reply.get_json() == {"error": "There is no such page."}


def test_errors_are_mapped_once_for_the_whole_app(app):
    """No blueprint keeps handlers of its own: the app's are the only ones."""
    assert set(app.error_handler_spec) == {None}
