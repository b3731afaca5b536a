"""Call detail records: a leg's record read from either path (parse.py), a call summarized from
its legs (summary.py), written idempotently by leg UUID (write.py); the rule for what
FreeSWITCH's own posts may change (posts.py); `cdr import` and the CDR spool directory
(files.py, spool.py); each leg's raw document, compressed, read through `raw_cdr`
(documents.py)."""

from .documents import raw_cdr
from .parse import CdrError, LegRecord, json_cdr_text
from .summary import CallSummary, summarize
from .write import write_leg, write_legs

__all__ = ["CallSummary", "CdrError", "LegRecord", "json_cdr_text", "raw_cdr", "summarize",
           "write_leg", "write_legs"]
