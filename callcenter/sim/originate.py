"""`originate` as FreeSWITCH reads it, and the job that reports its outcome.

`originate {var=value,...}<endpoint> &app(arg)` or `... <exten> [dialplan] [context]
[cid_name] [cid_num] [timeout]`. Like FreeSWITCH, an application argument ends at the first
`)`, and the endpoint is one dial string (no `,` or `|` lists in the simulator).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

USAGE = ("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
         "[<cid_name>] [<cid_num>] [<timeout_sec>]\n")


class OriginateError(ValueError):
    """The originate cannot start; str() is the API reply."""


@dataclass
class Originate:
    variables: dict[str, str]
    endpoint: str
    app: str | None  # "park" for "&park()", None when an extension is given
    app_arg: str
    exten: str
    dialplan: str
    context: str
    timeout_s: int = 60


def split_variables(text: str) -> dict[str, str]:
    """`a=1,b='x,y',c=d\\,e` -> {"a": "1", "b": "x,y", "c": "d,e"}."""
    out: dict[str, str] = {}
    item: list[str] = []
    quoted = False
    i = 0
    items: list[str] = []
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] == ",":
            item.append(",")
            i += 2
            continue
        if char == "'":
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(item))
            item = []
        else:
            item.append(char)
        i += 1
    items.append("".join(item))
    for entry in items:
        name, sep, value = entry.partition("=")
        if sep and name.strip():
            out[name.strip()] = value
    return out


def parse(argument: str) -> Originate:
    text = argument.strip()
    variables: dict[str, str] = {}
    while text[:1] in ("{", "<", "["):
        close = {"{": "}", "<": ">", "[": "]"}[text[0]]
        end = text.find(close)
        if end < 0:
            raise OriginateError(USAGE)
        variables.update(split_variables(text[1:end]))
        text = text[end + 1:]
    words = text.split()
    if len(words) < 2 or len(words) > 7:
        raise OriginateError(USAGE)
    endpoint, target = words[0], words[1]
    extra = [None if w == "undef" else w for w in words[2:]] + [None] * 5
    app, app_arg, exten = None, "", ""
    if target.startswith("&") and len(target) > 1:
        # An application argument ends at the first ")" (FreeSWITCH cuts it there too).
        match = re.fullmatch(r"&([A-Za-z0-9_]+)(?:\(([^)]*).*)?", target)
        if not match:
            raise OriginateError(USAGE)
        app, app_arg = match.group(1), match.group(2) or ""
    else:
        exten = target
    timeout = int(extra[4]) if extra[4] and extra[4].isdigit() else 60
    if extra[2]:
        variables.setdefault("origination_caller_id_name", extra[2])
    if extra[3]:
        variables.setdefault("origination_caller_id_number", extra[3])
    return Originate(variables, endpoint, app, app_arg, exten, extra[0] or "XML",
                     extra[1] or "default", timeout)


@dataclass
class OriginateJob:
    """The outcome of one originate, reported once: `+OK <uuid>` or `-ERR <CAUSE>`."""

    report: Callable[[str], None]
    done: bool = False
    bridged_early: bool = False  # uuid_bridge won the race against the originate's return
    result: str = field(default="", init=False)

    def finish(self, text: str) -> None:
        if self.done:
            return
        self.done = True
        self.result = text
        self.report(text)
