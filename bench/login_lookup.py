"""A request's login lookup: what every signed-in request costs before its view runs.

Each web request finds its login by the cookie's token (callcenter.sessions): the login's
times, its user and the user's agent. Side by side in one run, on one database, each inside
its own request-sized session (opened, one lookup, closed, as a request's is):

- `Sessions.signed_in`: one SELECT of plain columns, a `Person` built from the row;
- ORM rows: the same login, user and agent loaded as ORM objects (LoginSession, User with
  its agent joined), as the lookup did before.

Prints µs per lookup and the ratio.

Run from the repository root: python -m bench.login_lookup [--quick] [--database postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

LOOKUPS, QUICK_LOOKUPS, ROUNDS = 5_000, 300, 5


def _orm_rows():
    """The lookup as it was: ORM objects for the login, its user and the user's agent."""
    from callcenter.models import LoginSession, User
    return (select(LoginSession, User).join(User, User.id == LoginSession.user_id)
            .where(LoginSession.id == bindparam("key")).options(joinedload(User.agent)))


def run(url: str, lookups: int) -> dict[str, float]:
    from callcenter import db
    from callcenter.accounts import create_user
    from callcenter.audit import CLI
    from callcenter.models import Role, User
    from callcenter.sessions import Lifetimes, Sessions, login_key

    db.upgrade(url)
    database = db.Database(url)
    sessions = Sessions(database, Lifetimes())
    with database.session() as session:
        user = create_user(session, "ann", "plum-orbit-canal-42", Role.AGENT, "1001",
                           who=CLI)
        token = sessions.start(session, session.get(User, user.id))
    key, orm_rows = login_key(token), _orm_rows()

    def ours() -> None:
        with database.session() as session:
            assert sessions.signed_in(session, token).user.agent is not None

    def orm() -> None:
        with database.session() as session:
            _login, user = session.execute(orm_rows, {"key": key}).one()
            assert user.agent is not None

    figures: dict[str, list[float]] = {"signed_in (columns)": [], "ORM rows": []}
    for _ in range(ROUNDS):                 # interleaved, so both see the same machine
        for name, lookup in (("signed_in (columns)", ours), ("ORM rows", orm)):
            lookup()
            began = time.process_time()
            for _ in range(lookups):
                lookup()
            figures[name].append((time.process_time() - began) / lookups * 1e6)
    database.dispose()
    return {name: statistics.median(samples) for name, samples in figures.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.login_lookup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--lookups", type=int)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    lookups = args.lookups or (QUICK_LOOKUPS if args.quick else LOOKUPS)
    server = None
    with tempfile.TemporaryDirectory(prefix="cc-login-") as workdir:
        if args.database == "postgresql":
            from tests.postgres import PostgresServer
            server = PostgresServer()
            if not server.available:
                print("login lookup: skipped (PostgreSQL's binaries are not installed)")
                return 0
            url = server.start()
        else:
            url = f"sqlite:///{workdir}/bench.db"
        try:
            figures = run(url, lookups)
        finally:
            if server is not None:
                server.stop()
    ours, before = figures["signed_in (columns)"], figures["ORM rows"]
    print(f"login lookup on {args.database}, {lookups:,} lookups x {ROUNDS} rounds, "
          "each in its own session (CPU µs per lookup, median round)")
    for name, value in figures.items():
        print(f"  {name:22} {value:8.1f} µs")
    print(f"  ORM rows / signed_in: {before / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
