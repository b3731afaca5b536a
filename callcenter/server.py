"""`callcenter serve`: the web app, the switch link and (with no FreeSWITCH configured) the
built-in simulator, in one gevent process. The caller has already monkey-patched."""

from __future__ import annotations

import logging
import signal

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer

from .app import create_app
from .config import Settings
from .db import Database, DatabaseError
from .log import setup_logging

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    setup_logging(settings.log_level)
    database = Database(settings.database_url)
    database.check_reachable()
    if not database.is_current():
        raise DatabaseError("the database schema is not current: run `callcenter db upgrade`")
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)

    app = create_app(settings, database)
    server = WSGIServer((settings.http_host, settings.http_port), app, log=None,
                        error_log=logging.getLogger("callcenter.http"))
    server.start()
    # Tests start us on port 0 and read this line to find the port.
    print(f"callcenter serving on http://{settings.http_host}:{server.server_port}", flush=True)
    log.info("switch: %s", "built-in simulator" if settings.simulated
             else f"FreeSWITCH at {settings.esl_host}:{settings.esl_port}")

    stop = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop.set)
    stop.wait()
    log.info("stopping")
    server.stop(timeout=5)
    database.dispose()
