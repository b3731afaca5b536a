"""Password hashes, made and checked in real OS threads, never on the gevent hub.

A hash costs about a tenth of a second of CPU on purpose (werkzeug's scrypt). On the one hub
that every web request, live socket and the switch link share, a handful of wrong guesses a
second would stall them all. So every hash runs in a small pool of real threads (hashlib lets
go of the GIL while it hashes) and the greenlet asking waits for it; the hub keeps serving while
logins queue. gevent's ThreadPool starts real threads even after `patch_all` (a threading.Thread
would then be a greenlet). In a plain, unpatched process it works the same; called from a
thread other than the pool's hub thread, the hash simply runs in the caller's thread.

Login, first-run setup, `callcenter user add` and the admin's Users page all come here.
"""

from __future__ import annotations

import os

from werkzeug.security import check_password_hash, generate_password_hash

# One thread leaves the other core of a 2-core machine to the hub; never more than two, so a
# flood of logins cannot take every core.
POOL_THREADS = min(2, max(1, (os.cpu_count() or 1) - 1))

_pool = None
_unknown_user_hash: str | None = None


def _off_the_hub(fn, *args):
    """fn(*args) in the hashing pool, the calling greenlet waiting for it. From an OS thread
    other than the pool's hub thread (which may block as it likes) it runs right there."""
    global _pool
    from gevent.monkey import get_original

    if _pool is None:
        from gevent.threadpool import ThreadPool

        _pool = ThreadPool(POOL_THREADS)
    if get_original("_thread", "get_ident")() != _pool.hub.thread_ident:
        return fn(*args)
    return _pool.apply(fn, args)


def hash_password(password: str) -> str:
    return _off_the_hub(generate_password_hash, password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches `stored_hash`. With no hash (an unknown user) a dummy one is
    checked all the same and the answer is False, so timing does not tell which usernames
    exist."""
    global _unknown_user_hash
    if stored_hash is None:
        if _unknown_user_hash is None:
            _unknown_user_hash = hash_password("not a real password")
        _off_the_hub(check_password_hash, _unknown_user_hash, password)
        return False
    return _off_the_hub(check_password_hash, stored_hash, password)
