"""Call records: the search page (/records), the same search as JSON (GET /api/calls) and as a
streamed CSV export (GET /api/calls?format=csv). The search itself is callcenter/records/.

Supervisors and admins search every call; agents the calls they handled (whatever they ask).
Pages go by keyset: "Older" carries the id of the page's last call (`before`), "Newer" the id
of its first (`after`). The export streams the whole search in chunks, each read in its own
short transaction (constant memory, any size), and is itself an audit row. A call's own page is
/records/<call id>.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    g,
    jsonify,
    render_template,
    request,
    stream_with_context,
)

from .. import audit
from ..errors import Forbidden, InvalidInput
from ..models import Direction, Outcome, Role
from ..records import export
from ..records import search as records_search
from ..records.search import Filters, Search
from .access import requires
from .api import cdr_message
from .audit_trail import moment
from .services import services

bp = Blueprint("records", __name__)

STAFF = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
PAGE_ROWS = 50
API_ROWS = 20           # /api/calls without `limit`
SEARCH_FIELDS = ("from", "to", "agent", "queue", "direction", "number", "match", "outcome",
                 "cause", "disposition", "talk_min", "talk_max", "recorded")


@bp.route("/records")
@requires(*STAFF)
def index():
    typed = _typed()
    try:
        search = _search(typed)
        page = search.page(services().db_session(), PAGE_ROWS, before=_cursor("before"),
                           after=_cursor("after"))
        total = search.total(services().db_session())
    except InvalidInput as exc:
        return _page(typed, None, None, {exc.field or "": exc.reason}, status=exc.status)
    return _page(typed, page, total, {})


@bp.get("/api/calls")
@requires(*STAFF)
def api_calls():
    """The search as JSON (`calls`, `next`: the `before` of the next page, `total`,
    `total_capped`), or with format=csv the whole search as a streamed CSV file."""
    form = request.args.get("format", "json")
    if form not in ("json", "csv"):
        raise InvalidInput("json or csv", field="format")
    search = _search(_typed())
    if form == "csv":
        return _export(search)
    limit = request.args.get("limit", str(API_ROWS))
    if not limit.isascii() or not limit.isdigit() or not 1 <= int(limit) <= 100:
        raise InvalidInput(f"a whole number from 1 to 100 (got {limit[:20]!r})", field="limit")
    session = services().db_session()
    page = search.page(session, int(limit), before=_cursor("before"), after=_cursor("after"))
    total, capped = search.total(session)
    board = services().switchboard
    calls = []
    for row in page.calls:
        item = cdr_message(row)
        live = board.call(row.id) if board is not None else None
        if live is not None and not live.ended:
            item["progress"] = live.progress.value
        calls.append(item)
    return jsonify(calls=calls, next=page.older, newer=page.newer, total=total,
                   total_capped=capped)


def _export(search: Search) -> Response:
    with services().db.session() as s:
        audit.record(s, audit.Actor.user(g.user), "calls.export", "call records",
                     after=search.filters.described()
                     | ({"viewer_agent": search.viewer_agent} if search.viewer_agent else {}))
    stamp = datetime.now(_zone()).strftime("%Y%m%d-%H%M")
    lines = export.lines(search, services().db.session)
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="calls-{stamp}.csv"'})


# -- the request's search --------------------------------------------------------------------

def _typed() -> dict[str, str]:
    return {field: request.args.get(field, "").strip() for field in SEARCH_FIELDS}


def _search(typed: dict[str, str]) -> Search:
    """The request's filters as the signed-in user may run them (InvalidInput names the
    field at fault)."""
    filters = Filters(
        since=moment(typed["from"], "from", end=False),
        until=moment(typed["to"], "to", end=True),
        agent_id=_whole(typed["agent"], "agent"), queue_id=_whole(typed["queue"], "queue"),
        direction=_choice(Direction, typed["direction"], "direction"),
        number=typed["number"], number_match=typed["match"] or "prefix",
        outcome=_choice(Outcome, typed["outcome"], "outcome"),
        cause=typed["cause"].upper(), disposition=typed["disposition"][:64],
        talk_min=_whole(typed["talk_min"], "talk_min"),
        talk_max=_whole(typed["talk_max"], "talk_max"),
        recorded=_yes_no(typed["recorded"]))
    mine = request.args.get("mine", "0")
    if mine not in ("0", "1"):
        raise InvalidInput("1 for your own calls, 0 or nothing for everyone's", field="mine")
    viewer = None
    if mine == "1" or g.user.role is Role.AGENT:
        if g.user.agent is None:
            raise Forbidden("your account has no extension: an administrator can give you one")
        viewer = g.user.agent.id
    return Search(filters, viewer)


def _whole(text: str, field: str) -> int | None:
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput(f"a whole number (got {text[:20]!r})", field=field)
    return int(text)


def _choice(kind, text: str, field: str):
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise InvalidInput("one of " + ", ".join(m.value for m in kind), field=field) from None


def _yes_no(text: str) -> bool | None:
    if text not in ("", "yes", "no"):
        raise InvalidInput("yes, no or nothing", field="recorded")
    return None if not text else text == "yes"


def _cursor(field: str) -> str | None:
    value = request.args.get(field)
    if value is not None and not (0 < len(value) <= 64):
        raise InvalidInput("the id of a call from the previous page", field=field)
    return value


def _zone() -> ZoneInfo:
    return ZoneInfo(services().settings.timezone)


def _page(typed: dict, page, total, problems: dict, status: int = 200):
    zone = _zone()
    session = services().db_session()
    agents, queues = export.names(session)
    staff = g.user.role is not Role.AGENT
    rows = [{"call": call, "at": call.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
             "agent": agents.get(call.agent_id, ""), "queue": queues.get(call.queue_id, "")}
            for call in (page.calls if page else [])]
    count = None
    if total is not None:
        number, more = total
        count = ("many (too many to count quickly)" if number is None
                 else f"{records_search.COUNT_CAP:,}+" if more else f"{number:,}")
    search_args = {key: value for key, value in typed.items() if value}
    return render_template(
        "records.html", typed=typed, rows=rows, page=page, count=count, problems=problems,
        search_args=search_args, zone=services().settings.timezone, staff=staff,
        agents=sorted(agents.items(), key=lambda item: item[1]) if staff else [],
        queues=sorted(queues.items(), key=lambda item: item[1]),
        directions=[(d.value, d.value) for d in Direction],
        outcomes=[(o.value, o.value.replace("_", " ")) for o in Outcome]), status
