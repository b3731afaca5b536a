"""The web layer asks the switchboard (its façade, board.py) and never reaches inside it: no
web/ module, nor the credentials, sessions, app factory or monitoring, touches the board's
roster, legs, store, sender or link, and the server only wires it through the façade."""

from __future__ import annotations

import ast
from pathlib import Path

import callcenter

PACKAGE = Path(callcenter.__file__).parent
INSIDES = frozenset({"roster", "legs", "store", "sender", "link"})
# The web side of the process: none of it has any business with those names.
WEB_SIDE = [*sorted((PACKAGE / "web").glob("*.py")), PACKAGE / "credentials.py",
            PACKAGE / "sessions.py", PACKAGE / "app.py",
            *sorted((PACKAGE / "monitoring").glob("*.py"))]


def reaches(source: str, only_on_board: bool = False) -> list[str]:
    """`line: expression` for each attribute access of the board's insides. With
    `only_on_board`, only where the object is named as a board (board, switchboard, _board(),
    switch.board), for modules that own a link of their own."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in INSIDES:
            if only_on_board and "board" not in ast.unparse(node.value).lower():
                continue
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_check_sees_a_reach_inside():
    assert reaches("view = board.roster.agents.get(1)") == ["1: board.roster"]
    assert reaches("n = _board().store.depth", only_on_board=True) == ["1: _board().store"]
    assert reaches("switch.board.roster.discovered = f", only_on_board=True) == [
        "1: switch.board.roster"]
    assert reaches("self.link.stop()", only_on_board=True) == []


def test_the_web_side_never_reaches_inside_the_switchboard():
    offences = {path.name: found for path in WEB_SIDE
                if (found := reaches(path.read_text(encoding="utf-8")))}
    assert offences == {}, "ask the switchboard's façade (board.py) instead"


def test_the_server_wires_the_switchboard_through_its_facade():
    source = (PACKAGE / "server.py").read_text(encoding="utf-8")
    assert reaches(source, only_on_board=True) == []


def test_the_web_app_holds_no_raw_link_to_freeswitch():
    from callcenter.app import Services

    assert "switch" not in Services.__dataclass_fields__
