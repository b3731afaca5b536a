"""A widget's rules, in one place: the admin's input (name, queue, allowed origins, video,
pre-call fields, limits), the origins a visitor's page may call from, and the visitor's
pre-call fields. Every change names the version it was made on (a widget changed meanwhile
refuses it) and adds its audit row in the caller's transaction."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from .. import audit
from ..errors import InvalidInput, NotFound
from ..models import Queue, Widget
from ..typed import Problems
from ..versions import check_version, flush_unless_stale

# The pre-call fields a business may ask for, with the label the visitor reads by default.
FIELDS = {"name": "Your name", "email": "Your email", "topic": "What is it about?"}
FIELD_LENGTH = 200
PAGE_URL_LENGTH = 1024
PAGE_TITLE_LENGTH = 255
LIMITS = {  # admin form field: (low, high, what it is)
    "calls_per_address_hour": (1, 1000, "calls an hour from one address"),
    "concurrent_calls": (1, 1000, "calls at once"),
    "max_call_seconds": (60, 4 * 3600, "seconds a call may last"),
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{8,32}")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    required: bool

    def as_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "required": self.required}


# -- origins -------------------------------------------------------------------------------------

def parse_origin(text: str) -> str:
    """An origin as browsers send it: scheme://host[:port], lower case, no path."""
    text = text.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path \
            or parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"{text[:80]!r} is not an origin like https://www.example.com",
                           field="allowed_origins")
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"{text[:80]!r} has a bad port", field="allowed_origins") from None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def parse_origins(text: str) -> list[str]:
    origins: list[str] = []
    for line in re.split(r"[\s,]+", text or ""):
        if line:
            origin = parse_origin(line)
            if origin not in origins:
                origins.append(origin)
    return origins


def origins_of(widget: Widget) -> list[str]:
    return [line for line in (widget.allowed_origins or "").splitlines() if line]


def origin_allowed(widget: Widget, origin: str | None) -> bool:
    if not origin:
        return False
    try:
        return parse_origin(origin) in origins_of(widget)
    except InvalidInput:
        return False


# -- pre-call fields -----------------------------------------------------------------------------

def fields_of(widget: Widget) -> list[Field]:
    try:
        specs = json.loads(widget.fields or "[]")
    except ValueError:
        return []
    return [Field(s["name"], s.get("label") or FIELDS[s["name"]], bool(s.get("required")))
            for s in specs if isinstance(s, dict) and s.get("name") in FIELDS]


def visitor_fields(widget: Widget, given: object) -> dict[str, str]:
    """The visitor's answers to the widget's fields, checked; fields it does not ask for are
    dropped. Refused with every problem at once (typed.Problems)."""
    given = given if isinstance(given, dict) else {}
    answers, problems = {}, {}
    for field in fields_of(widget):
        value = given.get(field.name)
        value = value.strip() if isinstance(value, str) else ""
        if not value:
            if field.required:
                problems[field.name] = f"{field.label}: please fill this in"
            continue
        if len(value) > FIELD_LENGTH:
            problems[field.name] = f"{field.label}: at most {FIELD_LENGTH} characters"
        elif _CONTROL.search(value):
            problems[field.name] = f"{field.label}: letters, digits and punctuation only"
        elif field.name == "email" and not _EMAIL.fullmatch(value):
            problems[field.name] = f"{field.label}: an address like name@example.com"
        else:
            answers[field.name] = value
    if problems:
        raise Problems(problems)
    return answers


def page_of(given: object) -> tuple[str, str]:
    """The visitor's page URL and title, as far as they can be kept (an http(s) URL only)."""
    given = given if isinstance(given, dict) else {}
    url = given.get("url") if isinstance(given.get("url"), str) else ""
    title = given.get("title") if isinstance(given.get("title"), str) else ""
    if urlsplit(url).scheme not in ("http", "https") or _CONTROL.search(url):
        url = ""
    return url[:PAGE_URL_LENGTH], _CONTROL.sub(" ", title)[:PAGE_TITLE_LENGTH].strip()


# -- the admin's changes -------------------------------------------------------------------------

def all_widgets(session: Session) -> list[Widget]:
    return list(session.scalars(select(Widget).options(joinedload(Widget.queue))
                                .order_by(Widget.name)))


def by_public_id(session: Session, public_id: str) -> Widget | None:
    if not _PUBLIC_ID.fullmatch(public_id or ""):
        return None
    return session.scalar(select(Widget).options(joinedload(Widget.queue))
                          .where(Widget.public_id == public_id))


def add_widget(session: Session, form: Mapping[str, str], *, who: audit.Actor) -> Widget:
    values = _parsed(session, form)
    widget = Widget(public_id=secrets.token_urlsafe(12), **values)
    session.add(widget)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Problems({"": "that widget was added twice; look at the list"}) from None
    audit.record(session, who, "widget.create", f"widget {widget.public_id}",
                 after=_described(widget))
    return widget


def change_widget(session: Session, public_id: str, version: int | str,
                  form: Mapping[str, str], *, who: audit.Actor) -> Widget:
    widget = session.scalar(select(Widget).where(Widget.public_id == public_id))
    if widget is None:
        raise NotFound("this widget no longer exists: someone deleted it meanwhile")
    check_version(widget, version, f"widget {widget.name}")
    values = _parsed(session, form)
    before = _described(widget)
    for name, value in values.items():
        setattr(widget, name, value)
    before, after = audit.changed(before, _described(widget))
    if after:
        flush_unless_stale(session, f"widget {before.get('name', '')}")
        audit.record(session, who, "widget.change", f"widget {public_id}", before, after)
    return widget


def _described(widget: Widget) -> dict:
    return {"name": widget.name, "queue": widget.queue.name if widget.queue else None,
            "allowed_origins": origins_of(widget), "video": widget.video,
            "fields": json.loads(widget.fields or "[]"),
            **{name: getattr(widget, name) for name in LIMITS}, "active": widget.active}


def _parsed(session: Session, form: Mapping[str, str]) -> dict:
    """The widget's columns from the admin's form; every problem at once."""
    problems: dict[str, str] = {}
    values: dict = {}
    name = (form.get("name") or "").strip()
    if not name or len(name) > 64 or _CONTROL.search(name):
        problems["name"] = "a name of 1 to 64 characters"
    values["name"] = name
    queue_name = (form.get("queue") or "").strip()
    values["queue"] = session.scalar(select(Queue).where(Queue.name == queue_name))
    if values["queue"] is None:
        problems["queue"] = "choose the queue its calls enter"
    try:
        origins = parse_origins(form.get("allowed_origins", ""))
        if not origins:
            problems["allowed_origins"] = ("at least one origin, like https://www.example.com: "
                                           "the site the button is on")
        values["allowed_origins"] = "\n".join(origins)
    except InvalidInput as exc:
        problems["allowed_origins"] = exc.reason
    values["video"] = _checked(form.get("video"))
    fields = []
    for field, default in FIELDS.items():
        if _checked(form.get(f"field_{field}")):
            label = (form.get(f"label_{field}") or "").strip() or default
            if len(label) > 64 or _CONTROL.search(label):
                problems[f"label_{field}"] = "a label of at most 64 characters"
            fields.append(Field(field, label, _checked(form.get(f"required_{field}"))).as_dict())
    values["fields"] = json.dumps(fields)
    for field, (low, high, what) in LIMITS.items():
        text = (form.get(field) or "").strip()
        if not text.isdigit() or not low <= int(text) <= high:
            problems[field] = f"{what}: a whole number from {low} to {high}"
        else:
            values[field] = int(text)
    values["active"] = _checked(form.get("active"))
    if problems:
        raise Problems(problems)
    return values


def _checked(value: str | None) -> bool:
    return (value or "") in ("1", "on", "true", "yes")
