"""The admin's Audit log page: search the trail of changes, logins and exports by who, what and
when, newest first, a page at a time; and export the search as CSV.

Admins only: the trail holds every account change and every failed login (with the name that
was typed and the address it came from), and it is the record of what supervisors did — not for
those it audits to read.

Pages are keyset-paged (audit.Search): "Older rows" carries the id of the page's last row. The
CSV export streams the same search in chunks, each read in its own short transaction: constant
memory, and no transaction held open while a slow client downloads. The export is itself an
audit row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    g,
    render_template,
    request,
    stream_with_context,
)

from .. import audit
from ..errors import InvalidInput
from ..models import Role
from ..records.export import text_cell
from .access import requires
from .services import services

bp = Blueprint("audit_trail", __name__, url_prefix="/admin/audit")

PAGE_ROWS = 50
EXPORT_CHUNK = 500
SEARCH_FIELDS = ("who", "action", "target", "from", "to")
CSV_COLUMNS = ("at", "who", "action", "target", "before", "after")


@bp.route("")
@requires(Role.ADMIN)
def index():
    typed = _typed()
    before = request.args.get("before", "")
    try:
        search = _search(typed)
        if before and not before.isdigit():
            raise InvalidInput("no such row: start the search again", field="before")
        rows, more = search.page(services().db_session(), PAGE_ROWS,
                                 int(before) if before else None)
    except InvalidInput as exc:
        return _page(typed, [], None, {exc.field or "": exc.reason}, status=exc.status)
    return _page(typed, rows, more, {})


@bp.route("/export.csv")
@requires(Role.ADMIN)
def export():
    search = _search(_typed())      # InvalidInput: the error page, nothing exported
    who, described = audit.Actor.user(g.user), search.described()
    services().write(lambda s: audit.record(s, who, "audit.export", "audit log",
                                            after=described))
    stamp = datetime.now(_zone()).strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(_csv_lines(search)), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="audit-{stamp}.csv"'})


def _csv_lines(search: audit.Search) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([text_cell(value) for value in values])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for chunk in search.chunks(services().db.session, EXPORT_CHUNK):
        for entry in chunk:
            yield line((entry.at.isoformat(), entry.actor, entry.action, entry.target,
                        entry.before or "", entry.after or ""))


def _typed() -> dict[str, str]:
    return {field: request.args.get(field, "").strip() for field in SEARCH_FIELDS}


def _search(typed: dict[str, str]) -> audit.Search:
    return audit.Search(who=typed["who"], action=typed["action"], target=typed["target"],
                  since=moment(typed["from"], "from", end=False),
                  until=moment(typed["to"], "to", end=True))


def moment(text: str, field: str, *, end: bool) -> datetime | None:
    """A date (a whole day: `to` includes it) or a date and time, in the site's timezone."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=_zone())
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"a date (2026-12-02) or a date and time (2026-12-02T14:30), not "
                           f"{text[:40]!r}", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone())
    # "To 14:30" takes in the whole of that minute.
    return moment + timedelta(minutes=1) if end and len(text) == 16 else moment


def _zone() -> ZoneInfo:
    return ZoneInfo(services().settings.timezone)


def _page(typed: dict, rows: list, more: int | None, problems: dict,
          status: int = 200):
    zone = _zone()
    shown = [{"entry": row, "at": row.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
              "changes": _changes(row)} for row in rows]
    return render_template("admin/audit.html", typed=typed, rows=shown, more=more,
                           search_args={key: value for key, value in typed.items() if value},
                           problems=problems, zone=services().settings.timezone), status


def _changes(entry) -> list[tuple[str, str, str]]:
    """Each value the row names: (name, before, after), "—" where a side has none."""
    before, after = _values(entry.before), _values(entry.after)
    return [(key, _shown(before, key), _shown(after, key))
            for key in sorted(set(before) | set(after))]


def _values(text: str | None) -> dict:
    if not text:
        return {}
    try:
        values = json.loads(text)
    except ValueError:
        return {"": text}
    return values if isinstance(values, dict) else {"": values}


def _shown(values: dict, key: str) -> str:
    if key not in values:
        return "—"
    value = values[key]
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value if isinstance(value, str) else json.dumps(value)
