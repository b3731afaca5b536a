"""Where the supervisor's page and the wall display draw attention, as settings.

- CALLCENTER_ATTENTION: when an agent's row stands out on /supervisor, a JSON object
  {"long_call_s": 600, "long_break_s": 900, "missed_offers": 3} (any key may be left out).
- CALLCENTER_WALL_THRESHOLDS: the wall display's colours per queue, a JSON object keyed by queue
  name, "*" for every queue not named: {"*": {"waiting": [5, 10], "longest_wait_s": [60, 180],
  "service_level": [0.8, 0.6]}}, each [warn, alert]. Waiting and the longest wait warn at or
  above their values; the service level warns at or below them (a fraction, 0.8 for 80 %).

Both are read once at start; a wrong value stops the start with a message naming it.
"""

from __future__ import annotations

import json
import math

ATTENTION_DEFAULTS = {"long_call_s": 600, "long_break_s": 900, "missed_offers": 3}
WALL_DEFAULTS = {"waiting": [5, 10], "longest_wait_s": [60, 180], "service_level": [0.8, 0.6]}
ANY_QUEUE = "*"


def attention(text: str | None) -> dict:
    """The attention thresholds: defaults, overridden by the setting's keys."""
    given = _object(text, "CALLCENTER_ATTENTION")
    unknown = set(given) - set(ATTENTION_DEFAULTS)
    if unknown:
        raise ValueError(f"CALLCENTER_ATTENTION: unknown key {sorted(unknown)[0]!r}; the keys "
                         f"are {', '.join(ATTENTION_DEFAULTS)}")
    chosen = dict(ATTENTION_DEFAULTS)
    for key, value in given.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"CALLCENTER_ATTENTION: {key} must be a whole number above 0, "
                             f"not {value!r}")
        chosen[key] = value
    return chosen


def wall(text: str | None) -> dict:
    """{queue name or "*": {measure: [warn, alert]}}, every queue's measures complete."""
    given = _object(text, "CALLCENTER_WALL_THRESHOLDS")
    chosen = {ANY_QUEUE: dict(WALL_DEFAULTS)}
    for name in sorted(given, key=lambda n: n != ANY_QUEUE):     # "*" first: the base
        measures = given[name]
        where = f"CALLCENTER_WALL_THRESHOLDS[{name!r}]"
        if not isinstance(measures, dict):
            raise ValueError(f"{where} must be an object like {json.dumps(WALL_DEFAULTS)}")
        entry = dict(chosen[ANY_QUEUE])
        for measure, pair in measures.items():
            if measure not in WALL_DEFAULTS:
                raise ValueError(f"{where}: unknown measure {measure!r}; the measures are "
                                 f"{', '.join(WALL_DEFAULTS)}")
            entry[measure] = _pair(pair, measure, where)
        chosen[name] = entry
    return chosen


def wall_for(thresholds: dict, queue: str) -> dict:
    return thresholds.get(queue) or thresholds[ANY_QUEUE]


def _pair(pair: object, measure: str, where: str) -> list[float]:
    if not (isinstance(pair, list) and len(pair) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    and v >= 0 for v in pair)):
        raise ValueError(f"{where}: {measure} must be [warn, alert], two numbers of 0 or more, "
                         f"not {pair!r}")
    warn, alert = pair
    if measure == "service_level":
        if not (alert <= warn <= 1):
            raise ValueError(f"{where}: service_level is [warn, alert] as fractions with "
                             f"alert <= warn <= 1 (e.g. [0.8, 0.6]), not {pair!r}")
    elif alert < warn:
        raise ValueError(f"{where}: {measure} alerts at or above its warning: [warn, alert] "
                         f"with warn <= alert, not {pair!r}")
    return [warn, alert]


def _object(text: str | None, name: str) -> dict:
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        example = ATTENTION_DEFAULTS if "ATTENTION" in name else {ANY_QUEUE: WALL_DEFAULTS}
        raise ValueError(f"{name} is not JSON: give an object like "
                         f"{json.dumps(example)}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, not {type(value).__name__}")
    return value
