"""The `callcenter` command.

`serve` patches gevent before anything else is imported, so this module imports nothing heavy at
the top. Every failure is one line on stderr that says what to fix, and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import getpass
import sys


class CommandFailed(Exception):
    """A command cannot go on; its message is printed as the one-line error."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        # Before Flask, SQLAlchemy or sockets are imported anywhere in this process.
        from gevent import monkey

        monkey.patch_all()
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, never a traceback, for the errors we know
        from .errors import ProductError

        known = _known_errors()
        if isinstance(exc, known):
            print(f"callcenter: error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, ProductError):   # the input was refused: nothing was written
            print(f"callcenter: error: {exc}", file=sys.stderr)
            return 1
        raise


def _known_errors() -> tuple[type[BaseException], ...]:
    from .accounts import AccountError
    from .config import ConfigError
    from .db import DatabaseError
    from .fsconf.site import SiteError
    from .standby import AlreadyActive

    return (CommandFailed, ConfigError, DatabaseError, AccountError, SiteError, AlreadyActive)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter",
                                     description="Call-center controller for FreeSWITCH")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web app and the switch link")
    serve.set_defaults(run=_serve)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate to the newest schema")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=_db_upgrade)
    downgrade = db_commands.add_parser("downgrade", help="migrate back to REVISION")
    downgrade.add_argument("revision")
    downgrade.set_defaults(run=_db_downgrade)

    user = commands.add_parser("user", help="users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser(
        "add", help="add a user; the password is prompted for, or read from standard input")
    add.add_argument("username")
    add.add_argument("--role", required=True, help="agent, supervisor or admin")
    add.add_argument("--extension", help="SIP extension (an agent's; a supervisor's or an "
                     "admin's own softphone, for listening in)")
    add.set_defaults(run=_user_add)
    phone = user_commands.add_parser(
        "extension", help="give a supervisor or an admin its own softphone's extension "
        "(none: take it away); it applies at the user's next login")
    phone.add_argument("username")
    phone.add_argument("extension", nargs="?", default="")
    phone.set_defaults(run=_user_extension)
    signout = user_commands.add_parser(
        "signout", help="end every web login of a user (a running server closes its pages "
        "and revokes its softphone password within 30 s)")
    signout.add_argument("username")
    signout.set_defaults(run=_user_signout)

    display = commands.add_parser("display-token", help="wall displays' read-only tokens")
    display_commands = display.add_subparsers(dest="display_command", required=True)
    display_add = display_commands.add_parser(
        "add", help="a new wall display: prints the address to open on the TV (shown once)")
    display_add.add_argument("name", help="where the display hangs, e.g. 'Sales floor TV'")
    display_add.set_defaults(run=_display_add)
    display_commands.add_parser("list", help="every display token").set_defaults(
        run=_display_list)
    display_revoke = display_commands.add_parser(
        "revoke", help="revoke a display token (a running server refuses it from the page's "
        "next reconnect; the admin page closes it at once)")
    display_revoke.add_argument("id", type=int)
    display_revoke.set_defaults(run=_display_revoke)

    simulate = commands.add_parser("simulate", help="run the FreeSWITCH simulator on its own")
    simulate.add_argument("--port", type=int, default=0, help="ESL port (0: any free port)")
    simulate.add_argument("--password", help="ESL password (default: generated and printed)")
    simulate.add_argument("--register", action="append", default=[], metavar="FIRST-LAST",
                          type=_sim_option("parse_extensions"),
                          help="extensions whose softphones are registered from the start")
    simulate.add_argument("--customer-answer-ms", type=int, metavar="MS",
                          help="customers ring, then answer MS ms after the call (default 1500)")
    simulate.add_argument("--customer-hangup-s", type=float, metavar="S",
                          help="customers hang up S seconds after answering (default: never)")
    simulate.add_argument("--script", action="append", default=[],
                          metavar="NUMBER=ANSWER_MS[:HANGUP_S]", type=_sim_option("parse_script"),
                          help="how the customer at NUMBER behaves (repeatable)")
    simulate.add_argument("--callers", metavar="RATE", type=_sim_option("parse_rate", "callers"),
                          help="inbound callers per second, steady, from the first event "
                          "subscription until stopped (or --count)")
    simulate.add_argument("--count", metavar="N", type=_sim_option("parse_count", "callers"),
                          help="stop after N callers")
    simulate.add_argument("--did", metavar="NUMBER", type=_sim_option("parse_did", "callers"),
                          help="the number callers dial (default 5550100, queue sales, as in "
                          "freeswitch-conf/dids.xml)")
    simulate.add_argument("--queue", metavar="NAME", type=_sim_option("parse_queue", "callers"),
                          help="the queue callers wait in (default: the DID's in the dialplan)")
    simulate.add_argument("--caller-patience", metavar="S|MIN-MAX",
                          type=_sim_option("parse_seconds", "callers"),
                          help="a caller hangs up if no agent answered within S seconds (a "
                          "range: picked per caller); default: waits until hung up")
    simulate.add_argument("--caller-talk", metavar="S|MIN-MAX",
                          type=_sim_option("parse_seconds", "callers"),
                          help="a caller hangs up S seconds after an agent answered (a range: "
                          "picked per caller); default: talks until hung up")
    simulate.add_argument("--demo", action="store_true",
                          help="a live demo: softphones 1000-1009 registered (they answer by "
                          "themselves) and a caller every 4 s to 5550100 (queue sales), "
                          "patience 20-60 s, talk 10-40 s; the options above override")
    simulate.set_defaults(run=_simulate)

    fs_config = commands.add_parser(
        "fs-config", help="write FreeSWITCH's site.xml from the controller's settings")
    fs_config.add_argument("file", nargs="?", help="site.xml (or its directory) to write, "
                           "keeping its FREESWITCH_* values; standard output if omitted")
    fs_config.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                           help="a FREESWITCH_* value to change (repeatable)")
    fs_config.set_defaults(run=_fs_config)

    fs_check = commands.add_parser(
        "fs-check", help="check a FreeSWITCH configuration directory against the settings")
    fs_check.add_argument("directory", help="the directory holding freeswitch.xml")
    fs_check.add_argument("--certs-dir", help="FreeSWITCH's certificate directory (its -certs "
                          "option), when site.xml leaves it to FreeSWITCH")
    fs_check.add_argument("--media-dir", help="the folder of the sounds uploaded for queues "
                          "(CALLCENTER_MEDIA_DIR) as FreeSWITCH sees it: checked readable")
    fs_check.add_argument("--freeswitch-user", help="the user FreeSWITCH runs as (default: "
                          "any user other than the files' owner and group)")
    fs_check.add_argument("--sounds-dir", help="FreeSWITCH's sounds_dir, where the English "
                          "sound files are looked for (default: where its packages and a build "
                          "from source put them)")
    fs_check.set_defaults(run=_fs_check)

    _queue_commands(commands)
    _number_commands(commands)

    cdr = commands.add_parser("cdr", help="call detail records")
    cdr_commands = cdr.add_subparsers(dest="cdr_command", required=True)
    cdr_import = cdr_commands.add_parser(
        "import", help="load the CDR files mod_json_cdr left in its err-log-dir (idempotent)")
    cdr_import.add_argument("directory", help="mod_json_cdr's err-log-dir")
    cdr_import.add_argument("--remove", action="store_true",
                            help="delete each file once its leg is in the database (in its "
                            "call, or kept as unmatched)")
    cdr_import.set_defaults(run=_cdr_import)

    recordings = commands.add_parser("recordings", help="call recordings")
    recordings_commands = recordings.add_subparsers(dest="recordings_command", required=True)
    prune = recordings_commands.add_parser(
        "prune", help="list the recordings older than CALLCENTER_RECORDINGS_KEEP_DAYS (a dry "
        "run); --apply deletes their files and rows")
    prune.add_argument("--apply", action="store_true",
                       help="delete them (files and rows), with an audit row")
    prune.set_defaults(run=_recordings_prune)
    return parser


QUEUE_RELOAD_NOTE = ("A running controller applies changes made here when it next reloads its "
                     "queues: when it restarts, or when a change is saved on the admin's Queues "
                     "page (a new queue is also found by its first caller). Changes made on that "
                     "page apply at once.")


def _number_commands(commands) -> None:
    numbers = commands.add_parser(
        "numbers", help="inbound numbers (DIDs) and their queues, served to FreeSWITCH's "
        "public dialplan; the admin's Numbers page edits them too")
    number_commands = numbers.add_subparsers(dest="numbers_command", required=True)
    load = number_commands.add_parser(
        "import", help="add the numbers a static dids.xml routes (all or, if any cannot be "
        "added, none; numbers already there are left as they are)")
    load.add_argument("file", help="e.g. freeswitch-conf/dids.xml")
    load.set_defaults(run=_numbers_import)
    number_commands.add_parser("list", help="every inbound number").set_defaults(
        run=_numbers_list)


def _numbers_database():
    from .db import Database

    database = Database(_settings().database_url)
    database.check_reachable()
    if not database.has_table("inbound_numbers"):
        database.dispose()
        raise CommandFailed("the database schema is not current: run `callcenter db upgrade` "
                            "first")
    return database


def _numbers_import(args) -> None:
    from .audit import CLI
    from .numbers import import_dids

    database = _numbers_database()
    try:
        with database.session() as session:
            added, kept = import_dids(session, args.file, who=CLI)
            session.commit()
    finally:
        database.dispose()
    print(f"added {len(added)} number{'' if len(added) == 1 else 's'}"
          + (f": {', '.join(added)}" if added else "")
          + (f"; already there: {', '.join(kept)}" if kept else ""))


def _numbers_list(args) -> None:
    from .numbers import all_numbers

    database = _numbers_database()
    try:
        with database.session() as session:
            rows = [(n.number, n.queue.name, n.label) for n in all_numbers(session)]
    finally:
        database.dispose()
    if not rows:
        print("no inbound numbers yet: every call from the carrier is refused (add them on "
              "the admin's Numbers page, or `callcenter numbers import dids.xml`)")
    for number, queue, label in rows:
        print(f"{number}\t{queue}\t{label}")


def _queue_commands(commands) -> None:
    from .queue_config import SETTINGS

    queue = commands.add_parser("queue", help="inbound queues and their agents' tiers",
                                description=QUEUE_RELOAD_NOTE)
    queue_commands = queue.add_subparsers(dest="queue_command", required=True)
    add = queue_commands.add_parser("add", help="add a queue (the cc_queue name dids.xml "
                                    "gives); settings not given keep their defaults",
                                    description=QUEUE_RELOAD_NOTE)
    change = queue_commands.add_parser("set", help="change a queue's settings",
                                       description=QUEUE_RELOAD_NOTE)
    for parser in (add, change):
        parser.add_argument("name", help="the queue's name")
        for setting in SETTINGS:
            shown = {"choice": setting.name.upper(), "flag": "yes|no",
                     "number": "N"}.get(setting.kind, "TEXT")
            listed = f" ({', '.join(setting.choices)})" if setting.choices else ""
            parser.add_argument("--" + setting.name.replace("_", "-"), dest=setting.name,
                                metavar=shown, help=setting.label + listed)
    add.set_defaults(run=_queue_add)
    change.set_defaults(run=_queue_set)

    tier = queue_commands.add_parser(
        "tier", help="put an agent in a queue at a level and position, move it, or --remove it",
        description=QUEUE_RELOAD_NOTE)
    tier.add_argument("name", help="the queue's name")
    tier.add_argument("agent", help="the agent's extension or username")
    tier.add_argument("--level", help="lower levels are offered calls first (default 1)")
    tier.add_argument("--position", help="order within the level (default: after the last)")
    tier.add_argument("--remove", action="store_true", help="take the agent out of the queue")
    tier.set_defaults(run=_queue_tier)

    listing = queue_commands.add_parser("list", help="every queue with its settings and tiers")
    listing.set_defaults(run=_queue_list)


def _settings():
    from .config import Settings

    return Settings.from_env()


def _db_upgrade(args) -> None:
    from . import db

    settings = _settings()
    db.upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}")


def _db_downgrade(args) -> None:
    from . import db

    db.downgrade(_settings().database_url, args.revision)
    print(f"database at {args.revision}")


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password again: "):
            raise CommandFailed("the two passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _user_add(args) -> None:
    from .accounts import check_password, create_user, parse_role
    from .audit import CLI
    from .db import Database

    role = parse_role(args.role)
    settings = _settings()
    database = Database(settings.database_url)
    database.check_reachable()
    if not database.has_table("users"):
        raise CommandFailed("the database has no schema yet: run `callcenter db upgrade` first")
    password = check_password(_read_password(), args.username)
    with database.session() as session:
        user = create_user(session, args.username, password, role, args.extension, who=CLI)
        detail = f" with extension {user.agent.extension}" if user.agent else ""
    print(f"added {role.value} {user.username}{detail}")


def _user_signout(args) -> None:
    from .db import Database
    from .sessions import sign_out_everywhere

    database = Database(_settings().database_url)
    try:
        database.check_reachable()
        if not database.has_table("login_sessions"):
            raise CommandFailed("the database schema is not current: run `callcenter db "
                                "upgrade` first")
        try:
            ended = sign_out_everywhere(database, args.username)
        except LookupError as exc:
            raise CommandFailed(str(exc)) from None
    finally:
        database.dispose()
    print(f"signed out {args.username.strip().lower()}: {ended} login"
          f"{'' if ended == 1 else 's'} ended")


def _user_extension(args) -> None:
    from sqlalchemy import select

    from .accounts import set_phone_extension
    from .audit import CLI
    from .db import Database
    from .models import User

    database = Database(_settings().database_url)
    try:
        database.check_reachable()
        with database.session() as session:
            user = session.scalar(select(User).where(
                User.username == args.username.strip().lower()))
            if user is None:
                raise CommandFailed(f"there is no user {args.username!r}")
            extension = set_phone_extension(session, user, args.extension, who=CLI)
            session.commit()
    finally:
        database.dispose()
    print(f"{args.username.strip().lower()}: " + (f"extension {extension}" if extension
                                                   else "no extension"))


def _cdr_import(args) -> int:
    from pathlib import Path

    from .cdr.files import import_directory
    from .db import Database

    directory = Path(args.directory)
    if not directory.is_dir():
        raise CommandFailed(f"{directory} is not a directory: give mod_json_cdr's err-log-dir")
    database = Database(_settings().database_url)
    try:
        database.check_reachable()
        if not database.has_table("calls"):
            raise CommandFailed("the database has no schema yet: run `callcenter db upgrade` first")
        report = import_directory(database, directory, remove=args.remove)
    finally:
        database.dispose()
    for path, reason in report.failed:
        print(f"callcenter: cdr import: {path}: {reason}", file=sys.stderr)
    print(report.summary())
    return 1 if report.failed else 0


def _recordings_prune(args) -> int:
    from .db import Database
    from .models import utcnow
    from .records.recordings import prune

    settings = _settings()
    if settings.recordings_keep_days is None:
        raise CommandFailed("CALLCENTER_RECORDINGS_KEEP_DAYS is not set: recordings are kept "
                            "for ever (set it to the days to keep, then prune)")
    database = Database(settings.database_url)
    try:
        database.check_reachable()
        if not database.has_table("recordings"):
            raise CommandFailed("the database schema is not current: run `callcenter db "
                                "upgrade` first")
        with database.session() as session:
            report = prune(session, settings.recordings_dir, settings.recordings_keep_days,
                           utcnow(), apply=args.apply)
            for row in report.due:
                print(f"{row.started_at:%Y-%m-%d %H:%M}  call {row.call_id}  {row.path}")
            session.commit()
    finally:
        database.dispose()
    for path in report.refused:
        print(f"callcenter: recordings prune: {path} is outside {settings.recordings_dir}: "
              "its row is removed, the file left alone", file=sys.stderr)
    for failure in report.failed:
        print(f"callcenter: recordings prune: {failure} (its row is kept)", file=sys.stderr)
    print(report.summary(args.apply))
    return 1 if report.failed else 0


def _display_database():
    from .db import Database

    database = Database(_settings().database_url)
    database.check_reachable()
    if not database.has_table("display_tokens"):
        database.dispose()
        raise CommandFailed("the database schema is not current: run `callcenter db upgrade` "
                            "first")
    return database


def _display_add(args) -> None:
    from . import displays
    from .audit import CLI

    settings = _settings()
    database = _display_database()
    try:
        with database.session() as session:
            row, token = displays.create(session, args.name, who=CLI)
            session.commit()
            print(f"display {row.id} ({row.name}): open this on the TV (shown only now):")
            print(f"{settings.public_url}/wallboard?token={token}")
    finally:
        database.dispose()


def _display_list(args) -> None:
    from . import displays

    database = _display_database()
    try:
        with database.session() as session:
            tokens = displays.all_tokens(session)
            lines = [f"{t.id}  {t.name}  created {t.created_at:%Y-%m-%d %H:%M} UTC by "
                     f"{t.created_by}  " + (f"revoked {t.revoked_at:%Y-%m-%d %H:%M} UTC"
                                            if t.revoked_at else "active") for t in tokens]
    finally:
        database.dispose()
    print("\n".join(lines) if lines else "no display tokens: add one with "
          "`callcenter display-token add NAME`")


def _display_revoke(args) -> None:
    from . import displays
    from .audit import CLI

    database = _display_database()
    try:
        with database.session() as session:
            row = displays.revoke(session, args.id, who=CLI)
            session.commit()
            print(f"display {row.id} ({row.name}) revoked")
    finally:
        database.dispose()


def _queue_database():
    from .db import Database

    database = Database(_settings().database_url)
    database.check_reachable()
    if not database.has_table("queue_agents"):
        database.dispose()
        raise CommandFailed("the database has no schema yet: run `callcenter db upgrade` first")
    return database


def _given_settings(args) -> dict[str, str]:
    from .queue_config import SETTINGS

    return {s.name: getattr(args, s.name) for s in SETTINGS
            if getattr(args, s.name) is not None}


def _queue_add(args) -> None:
    from .audit import CLI
    from .queue_config import create_queue

    database = _queue_database()
    try:
        with database.session() as session:
            queue = create_queue(session, args.name, _given_settings(args), who=CLI)
            print(f"added queue {queue.name} ({queue.strategy.value})")
    finally:
        database.dispose()


def _queue_set(args) -> None:
    from .audit import CLI
    from .queue_config import change_queue, setting_values

    given = _given_settings(args)
    database = _queue_database()
    try:
        with database.session() as session:
            queue = change_queue(session, args.name, given, who=CLI)
            now = setting_values(queue)
            print(f"queue {queue.name}: " + ", ".join(f"{name} {now[name]}".rstrip()
                                                      for name in given))
    finally:
        database.dispose()


def _queue_tier(args) -> None:
    from .audit import CLI
    from .errors import InvalidInput
    from .queue_config import remove_tier, set_tier

    if args.remove and (args.level is not None or args.position is not None):
        raise InvalidInput("--remove takes no --level or --position")
    database = _queue_database()
    try:
        with database.session() as session:
            if args.remove:
                agent = remove_tier(session, args.name, args.agent, who=CLI)
                print(f"queue {args.name}: removed {agent.extension} ({agent.user.username})")
                return
            tier = set_tier(session, args.name, args.agent, args.level, args.position, who=CLI)
            print(f"queue {tier.queue.name}: {tier.agent.extension} ({tier.agent.user.username})"
                  f" at level {tier.level}, position {tier.position}")
    finally:
        database.dispose()


def _queue_list(args) -> None:
    from .models import TimeoutAction
    from .queue_config import all_queues, describe_tiers

    database = _queue_database()
    try:
        with database.session() as session:
            queues = all_queues(session)
            rows = [("name", "strategy", "max wait", "no agent", "then", "priority", "tiers")]
            for q in queues:
                then = q.timeout_action.value + (
                    "" if q.timeout_action is TimeoutAction.HANG_UP else f" {q.timeout_target}")
                rows.append((q.name, q.strategy.value, _waited(q.max_wait_seconds),
                             _waited(q.max_wait_no_agent_seconds), then, str(q.priority),
                             describe_tiers(q) or "-"))
            hours = {q.name: "\n  ".join(line for line in (_open_hours(q), _callbacks(q))
                                          if line) for q in queues}
            told = {q.name: _announcements(q) for q in queues}
    finally:
        database.dispose()
    if not queues:
        print("no queues yet: add one with `callcenter queue add NAME`")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[-1])
        if hours.get(row[0]):
            print("  " + hours[row[0]])
        if told.get(row[0]):
            print("  " + told[row[0]])


def _open_hours(queue) -> str:
    """A second line for a queue with open hours: in the compact form `--open-hours` takes."""
    if not queue.open_hours and not queue.holidays:
        return ""
    closed = queue.closed_action.value + (f" {queue.closed_target}" if queue.closed_target
                                          else "")
    if queue.closed_message:
        closed += f" after {queue.closed_message}"
    return (f"open hours: {queue.open_hours or 'every day'}"
            + (f"; holidays: {queue.holidays}" if queue.holidays else "")
            + f"; when closed: {closed}")


def _callbacks(queue) -> str:
    """A line for a queue that offers callbacks."""
    if not queue.callback_key:
        return ""
    return (f"callbacks: key {queue.callback_key}, {queue.callback_retries} retries "
            f"{queue.callback_retry_delay_seconds} s apart")


def _announcements(queue) -> str:
    """A line for a queue that tells its callers something while they wait."""
    parts = []
    if queue.greeting:
        parts.append(f"greeting {queue.greeting}")
    if queue.announcement and queue.announce_seconds:
        parts.append(f"{queue.announcement} every {queue.announce_seconds} s")
    told = [what for what, on in (("place", queue.announce_position),
                                  ("wait", queue.announce_wait)) if on]
    if told and queue.position_seconds:
        parts.append(f"{' and '.join(told)} every {queue.position_seconds} s")
    return "announces: " + "; ".join(parts) if parts else ""


def _waited(seconds: int) -> str:
    return f"{seconds} s" if seconds else "no limit"


def _serve(args) -> None:
    from .server import run

    return run(_settings())


def _fs_config(args) -> None:
    from pathlib import Path

    from .fsconf import site

    own = site.parse_assignments(args.set)
    site.spool_values(_settings(), own)  # refuses a --set that disagrees with the settings
    if args.file is None:
        if own:
            raise CommandFailed("--set needs the site.xml FILE to write")
        sys.stdout.write(site.render(_settings()))
        return
    path = Path(args.file)
    if path.is_dir():
        path = path / site.SITE_FILE
    kept = site.read_own_values(path) if path.exists() else {}
    site.write(path, site.render(_settings(), kept | own))
    print(f"wrote {path}")


def _fs_check(args) -> int:
    from pathlib import Path

    from .fsconf.checks import check_tree

    directory = Path(args.directory)
    if not directory.is_dir():
        raise CommandFailed(f"{directory} is not a directory: give the one holding "
                            "freeswitch.xml")
    certs = Path(args.certs_dir) if args.certs_dir else None
    if certs is not None and not certs.is_dir():
        raise CommandFailed(f"--certs-dir {certs} is not a directory")
    problems = check_tree(directory, _settings(), certs_dir=certs)
    for problem in problems:
        print(f"{directory}/{problem}" if problem.where else f"{directory}: {problem}")
    count = len(problems) + _fs_check_sounds(args) + _fs_check_recordings()
    if count:
        print(f"{count} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"{directory}: no problems found")
    return 0


def _fs_check_recordings() -> int:
    """The recordings directory the controller reads recordings from (a problem each)."""
    from .fsconf.recordings import recordings_dir_problems

    problems = recordings_dir_problems(_settings().recordings_dir)
    for problem in problems:
        print(f"recordings: {problem}")
    return len(problems)


def _fs_check_sounds(args) -> int:
    """Asked with --media-dir or --sounds-dir: the sounds folder FreeSWITCH must read (a
    problem each), and a note on the English sound files (their absence is no problem: place
    and wait are then not said)."""
    from pathlib import Path

    from .fsconf.media import media_dir_problems, say_sounds

    if not args.media_dir and not args.sounds_dir:
        return 0
    problems = media_dir_problems(Path(args.media_dir), args.freeswitch_user) \
        if args.media_dir else []
    for problem in problems:
        print(f"media: {problem}")
    sounds_dir = Path(args.sounds_dir) if args.sounds_dir else None
    print(f"note: {say_sounds(sounds_dir)[1]}")
    return len(problems)


def _sim_option(parser_name: str, module: str = "simulator"):
    """An argparse type from callcenter.sim.<module>: its ValueError becomes the message."""
    def parse(text: str):
        from importlib import import_module

        try:
            return getattr(import_module(f"callcenter.sim.{module}"), parser_name)(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = parser_name
    return parse


def _simulate(args) -> None:
    import secrets

    from .sim import serve_forever
    from .sim.callers import DEMO_AGENTS
    from .sim.simulator import customer_behaviour, parse_extensions

    customer = None
    if args.customer_answer_ms is not None or args.customer_hangup_s is not None:
        try:
            customer = customer_behaviour(args.customer_answer_ms, args.customer_hangup_s)
        except ValueError as exc:
            raise CommandFailed(f"simulate: {exc}") from None
    callers = _callers(args)
    register = [ext for extensions in args.register for ext in extensions]
    if args.demo:
        register += parse_extensions(DEMO_AGENTS)
    serve_forever(args.port, args.password or secrets.token_urlsafe(16),
                  register=list(dict.fromkeys(register)), customer=customer,
                  scripts=dict(args.script), callers=callers)


def _callers(args):
    """The inbound callers `simulate` sends: --callers RATE or --demo, then their options."""
    from dataclasses import replace

    from .sim.callers import DEMO_RATE, Callers, demo_callers

    given = {field: getattr(args, option[2:].replace("-", "_"))
             for option, field in _CALLER_OPTIONS.items()}
    given = {field: value for field, value in given.items() if value is not None}
    if args.callers is None and not args.demo:
        if given:
            options = [option for option, field in _CALLER_OPTIONS.items() if field in given]
            raise CommandFailed(f"simulate: {', '.join(options)}: give --callers RATE or "
                                "--demo too")
        return None
    rate = args.callers if args.callers is not None else DEMO_RATE
    try:
        return replace(demo_callers(rate) if args.demo else Callers(rate=rate), **given)
    except ValueError as exc:
        raise CommandFailed(f"simulate: {exc}") from None


# simulate's caller options and the Callers fields they set.
_CALLER_OPTIONS = {"--count": "count", "--did": "did", "--queue": "queue",
                   "--caller-patience": "patience", "--caller-talk": "talk"}


if __name__ == "__main__":
    sys.exit(main())
