"""Reading a typed value (a form field, a command-line option, a CSV cell): one rule for each
kind, shared by queues, agents and the CSV import. Each refusal is an InvalidInput whose reason
the page shows next to the field."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import InvalidInput


def text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None:
        raise InvalidInput("missing")
    return str(value)


def whole_number(value: object, low: int, high: int, unit: str = "") -> int:
    typed = text(value)
    try:
        number = int(typed)
    except ValueError:
        raise InvalidInput(f"a whole number{' of ' + unit if unit else ''} is needed "
                           f"(got {typed[:20]!r})") from None
    if not low <= number <= high:
        raise InvalidInput(f"must be {low} to {high}{' ' + unit if unit else ''} (got {number})")
    return number


YES = frozenset({"yes", "true", "on", "1"})
NO = frozenset({"no", "false", "off", "0", ""})


def flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    typed = text(value).lower()
    if typed in YES or typed in NO:
        return typed in YES
    raise InvalidInput(f"yes or no (got {typed[:20]!r})")


class Problems(InvalidInput):
    """Several fields of a form refused at once: `problems` maps each field to its reason (the
    page shows each next to its input; "" for the form as a whole)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        if len(self.problems) == 1:
            [(field, reason)] = self.problems.items()
            super().__init__(reason, field=field or None)
        else:
            super().__init__("; ".join(f"{f}: {r}" for f, r in self.problems.items()))


def problems_of(exc: Exception, field: str = "") -> dict[str, str]:
    """Each refused field of a form with its reason, for the page to show next to it ("" for
    the form as a whole, or `field` for a refusal that names none)."""
    if isinstance(exc, Problems):
        return exc.problems
    if isinstance(exc, InvalidInput):
        return {exc.field or field: exc.reason}
    return {field: str(exc)}
