"""Engine, sessions and migrations.

SQLite (the embedded default) runs in WAL mode with foreign keys on; PostgreSQL goes through
psycopg 3, which cooperates with gevent. Schema changes only ever go through alembic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .paths import MIGRATIONS_DIR
from .private_files import create_private_file, make_private_dir, sqlite_file


class DatabaseError(Exception):
    """The database cannot be used; the message says what to fix."""


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = sqlite_file(url)
        if database is not None:
            # Created private before SQLite opens it: its -wal and -shm files copy its mode.
            try:
                make_private_dir(database.parent)
                create_private_file(database)
            except OSError as exc:
                raise DatabaseError(f"cannot create the SQLite database {database}: "
                                    f"{exc}") from None
        engine = create_engine(url, connect_args={"timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        # Plain postgresql:// would pick psycopg2; psycopg 3 is the one we install.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def check_reachable(self) -> None:
        try:
            with self.engine.connect():
                pass
        except OperationalError as exc:
            raise DatabaseError(
                f"cannot reach the database {make_url(self.url).render_as_string()}: "
                f"{_first_line(exc.orig or exc)}") from None

    def is_current(self) -> bool:
        """True when the schema is at the newest migration."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with self.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        return current == set(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())

    def has_table(self, name: str) -> bool:
        return inspect(self.engine).has_table(name)

    @functools.cached_property
    def writer(self) -> Database:
        """The engine of the switchboard's writer thread (switchboard/store.py): a pool and
        connections of its own, so no lock or connection is shared with the hub's thread."""
        return Database(self.url)

    def dispose(self) -> None:
        self.engine.dispose()
        if "writer" in self.__dict__:
            self.writer.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # alembic reads options through ConfigParser: escape % in passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    _migrate("upgrade", url, revision)


def downgrade(url: str, revision: str) -> None:
    _migrate("downgrade", url, revision)


def _migrate(direction: str, url: str, revision: str) -> None:
    from alembic import command

    probe = Database(url)
    try:
        probe.check_reachable()
    finally:
        probe.dispose()  # an idle connection left open keeps a PostgreSQL database busy
    try:
        getattr(command, direction)(alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"migration failed: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# SQLite result codes (the primary code is the low byte of `sqlite_errorcode`) and PostgreSQL
# SQLSTATE classes that say the row itself is wrong: writing it again can never work.
_SQLITE_DATA_CODES = frozenset({18, 19, 20, 25})  # TOOBIG, CONSTRAINT, MISMATCH, RANGE
_SQLSTATE_DATA_CLASSES = frozenset({"22", "23"})   # data exception, integrity violation


def is_data_fault(exc: BaseException) -> bool:
    """True when a failed write failed because of its own data (retrying cannot help); False
    when the database is at fault (unreachable, read-only, locked, full, I/O, restarting) and
    the same write should wait and be tried again. Decided by SQLSTATE or SQLite's result code
    and the driver's exception class, never by message text. An error that is not the
    database's at all (a bug turning the record into SQL) counts as the record's own."""
    if not isinstance(exc, DBAPIError):
        return True
    if exc.connection_invalidated:
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return sqlstate[:2] in _SQLSTATE_DATA_CLASSES
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_DATA_CODES
    return isinstance(exc, IntegrityError | DataError)


# --- statements both databases run alike ----------------------------------------------------


def insert_missing(session: Session, model: type):
    """INSERT ... ON CONFLICT DO NOTHING for `model`'s table in the session's dialect (built
    once per dialect and table: building a statement costs more than running it)."""
    return _upserts(session.get_bind().dialect.name, model, None)


def upsert(session: Session, model: type, columns: tuple[str, ...], where: str):
    """INSERT ... ON CONFLICT (primary key) DO UPDATE SET `columns` from the new row, where
    the existing row is `where` (SQL over the table's own columns); cached too."""
    return _upserts(session.get_bind().dialect.name, model, (columns, where))


@functools.cache
def _upserts(dialect: str, model: type, on_conflict: tuple[tuple[str, ...], str] | None):
    if dialect not in ("postgresql", "sqlite"):
        raise RuntimeError(f"unsupported database: {dialect}")
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model.__table__)
    if on_conflict is None:
        return insert.on_conflict_do_nothing()
    columns, where = on_conflict
    return insert.on_conflict_do_update(
        index_elements=list(model.__table__.primary_key.columns),
        set_={name: insert.excluded[name] for name in columns}, where=text(where))
