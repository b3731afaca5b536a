"""A FreeSWITCH configuration tree read the way FreeSWITCH 1.10 reads it.

FreeSWITCH's preprocessor (switch_xml.c) goes line by line before any XML parsing: it expands
`$${name}`, acts on every line holding an X-PRE-PROCESS directive (`set`, `env-set`,
`exec-set`, `include`; even inside an XML comment), drops lines holding the include tag or a
processing instruction, and only then parses the one document it wrote. Reading a tree the same
way lets `fs-check` see what FreeSWITCH will see, and point each finding at the file and line it
came from.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.parsers import expat

ROOT_FILE = "freeswitch.xml"
# Set by FreeSWITCH itself at start (switch_core.c), from its command line and install prefix.
RUNTIME_VARIABLES = frozenset({
    "hostname", "local_ip_v4", "local_mask_v4", "local_ip_v6", "core_uuid", "base_dir",
    "recordings_dir", "sound_prefix", "sounds_dir", "conf_dir", "log_dir", "run_dir", "db_dir",
    "mod_dir", "htdocs_dir", "script_dir", "temp_dir", "grammar_dir", "fonts_dir", "images_dir",
    "certs_dir", "storage_dir", "cache_dir", "data_dir", "localstate_dir",
})
_MAX_DEPTH = 100  # FreeSWITCH's own include limit
_VARIABLE = re.compile(r"\$\$\{([^}]*)\}")
_DIRECTIVE = re.compile(r"x-pre-process", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """One finding: where it is (``path:line``, ``path`` or nothing) and what to do."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class Tree:
    """The assembled document, the preprocessor variables as FreeSWITCH would end up with them,
    and what went wrong on the way."""

    root_dir: Path
    document: ET.Element | None = None
    variables: dict[str, str] = field(default_factory=dict)
    # Names only FreeSWITCH knows at load time (exec-set output, runtime directories not given):
    # their uses stay as the literal text `$${name}`.
    deferred: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _origins: list[tuple[Path, int]] = field(default_factory=list)
    _lines: dict[ET.Element, int] = field(default_factory=dict)

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root_dir))
        except ValueError:
            return str(path)

    def where(self, element: ET.Element | None) -> str:
        """``file:line`` of an element of the assembled document."""
        line = self._lines.get(element) if element is not None else None
        if line is None or not 0 < line <= len(self._origins):
            return ""
        path, number = self._origins[line - 1]
        return f"{self.relative(path)}:{number}"

    def section(self, name: str) -> ET.Element | None:
        if self.document is None:
            return None
        return next((s for s in self.document.findall("section") if s.get("name") == name), None)

    def configuration(self, name: str) -> ET.Element | None:
        """``<configuration name="event_socket.conf">``; the first one wins, as in FreeSWITCH."""
        section = self.section("configuration")
        if section is None:
            return None
        return next((c for c in section.iter("configuration") if c.get("name") == name), None)

    def profiles(self) -> Iterator[ET.Element]:
        sofia = self.configuration("sofia.conf")
        if sofia is not None:
            yield from sofia.iter("profile")


def params(element: ET.Element | None, name: str, child: str | None = "settings") -> list[str]:
    """Every value a ``<param name=...>`` of ``element`` (or its ``child``) gives ``name``,
    in order; FreeSWITCH keeps the last, or all of them for list-valued params."""
    if element is None:
        return []
    holder = element.find(child) if child else element
    if holder is None:
        return []
    return [p.get("value", "") for p in holder.findall("param") if p.get("name") == name]


def param(element: ET.Element | None, name: str, child: str | None = "settings") -> str | None:
    values = params(element, name, child)
    return values[-1] if values else None


def param_element(element: ET.Element | None, name: str,
                  child: str | None = "settings") -> ET.Element | None:
    if element is None:
        return None
    holder = element.find(child) if child else element
    found = [p for p in holder.findall("param") if p.get("name") == name] if holder is not None \
        else []
    return found[-1] if found else None


def deferred_names(value: str) -> list[str]:
    """The `$${name}` references a value still holds: what FreeSWITCH fills in at load time."""
    return _VARIABLE.findall(value)


def read_tree(root_dir: Path, environ: Mapping[str, str] | None = None,
              runtime: Mapping[str, str] | None = None) -> Tree:
    """Read ``root_dir/freeswitch.xml`` and everything it includes.

    ``environ`` is the environment `env-set` reads (FreeSWITCH's; by default this process's);
    ``runtime`` gives FreeSWITCH's own directories where known (``conf_dir`` is ``root_dir``).
    """
    root_dir = Path(root_dir).resolve()
    tree = Tree(root_dir=root_dir)
    known_runtime = {"conf_dir": str(root_dir), **(runtime or {})}
    for name in RUNTIME_VARIABLES:
        if name in known_runtime:
            tree.variables[name] = known_runtime[name]
        else:
            tree.deferred[name] = f"FreeSWITCH's {name}"
    reader = _Reader(tree, os.environ if environ is None else environ)
    start = root_dir / ROOT_FILE
    if not start.is_file():
        tree.problems.append(Problem("", f"no {ROOT_FILE} here: not a FreeSWITCH "
                                         "configuration directory"))
        return tree
    output: list[str] = []
    reader.read(start, output, 0)
    if any(p.message.startswith("not well-formed") for p in tree.problems):
        return tree  # the file's own error says it better than the assembled document's
    _parse_document(tree, "\n".join(output))
    return tree


class _Reader:
    def __init__(self, tree: Tree, environ: Mapping[str, str]):
        self.tree = tree
        self.environ = environ

    def problem(self, path: Path, line: int | None, message: str) -> None:
        where = self.tree.relative(path) + (f":{line}" if line else "")
        self.tree.problems.append(Problem(where, message))

    def read(self, path: Path, output: list[str], depth: int) -> None:
        if depth > _MAX_DEPTH:
            self.problem(path, None, "includes nest more than 100 deep (an include loop?)")
            return
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(path, None, f"cannot be read: {exc}")
            return
        self.tree.files.append(path)
        _check_well_formed(self, path, text)
        for number, raw in enumerate(text.splitlines(), start=1):
            line = self.expand(raw, path, number)
            if "<include>" in raw or "</include>" in raw or "<?" in raw:
                continue
            match = _DIRECTIVE.search(line)
            if match:
                if match.start() > 0 and line[match.start() - 1] == "<":
                    self.directive(line[match.start():], path, number, output, depth)
                continue  # FreeSWITCH drops any other line that names the directive
            output.append(line)
            self.tree._origins.append((path, number))

    def expand(self, line: str, path: Path, number: int) -> str:
        def value(match: re.Match) -> str:
            name = match.group(1)
            if name in self.tree.variables:
                return self.tree.variables[name]
            if name in self.tree.deferred:
                return match.group(0)
            self.problem(path, number, f"$${{{name}}} is not set before this line: FreeSWITCH "
                                       "reads it as empty")
            return ""

        return _VARIABLE.sub(value, line)

    def directive(self, text: str, path: Path, number: int, output: list[str],
                  depth: int) -> None:
        command, data = _directive_parts(text)
        if command is None or data is None:
            self.problem(path, number, "a preprocessor directive needs cmd=\"...\" and "
                                       "data=\"...\" on one line")
            return
        command = command.lower()
        name, _, value = data.partition("=")
        name = name.strip()
        if command == "set":
            self.set(name, value.strip())
        elif command == "env-set":
            if value.startswith("$") and value[1:] in self.environ:
                self.set(name, self.environ[value[1:]])
        elif command == "exec-set":
            self.tree.variables.pop(name, None)
            self.tree.deferred[name] = "generated at each start (exec-set)"
        elif command == "include":
            self.include(data, path, number, output, depth)
        elif command == "stun-set":
            self.problem(path, number, f"stun-set asks a STUN server on the Internet for {name}: "
                                       "set the public address instead")
        else:
            self.problem(path, number, f"fs-check cannot follow the {command!r} directive")

    def set(self, name: str, value: str) -> None:
        self.tree.deferred.pop(name, None)
        self.tree.variables[name] = value

    def include(self, pattern: str, path: Path, number: int, output: list[str],
                depth: int) -> None:
        full = pattern if os.path.isabs(pattern) else str(path.parent / pattern)
        matches = sorted(glob.glob(full))
        if not matches:
            kind = "matches no file" if glob.has_magic(pattern) else "does not exist"
            self.problem(path, number, f"includes {pattern}, which {kind}")
            return
        for match in matches:
            self.read(Path(os.path.normpath(match)), output, depth + 1)


def _directive_parts(text: str) -> tuple[str | None, str | None]:
    """cmd and data of a directive, found the way switch_xml.c finds them."""
    lowered = text.lower()
    at = lowered.find("cmd")
    if at < 0:
        return None, None
    command, rest = _quoted(text, text.find("=", at))
    if command is None:
        return None, None
    at = rest.lower().find("data")
    if at < 0:
        return command, None
    data, _ = _quoted(rest, rest.find("=", at))
    return command, data


def _quoted(text: str, equals: int) -> tuple[str | None, str]:
    if equals < 0:
        return None, ""
    start = text.find('"', equals)
    if start < 0:
        return None, ""
    end = text.find('"', start + 1)
    if end < 0:
        return text[start + 1:], ""
    return text[start + 1:end], text[end + 1:]


def _check_well_formed(reader: _Reader, path: Path, text: str) -> None:
    """Each file on its own, so an error names the file that has it. Processing-instruction
    lines go (FreeSWITCH drops them too) and a wrapper element lets a file hold several."""
    lines = ["" if "<?" in line else line for line in text.splitlines()]
    parser = expat.ParserCreate()
    try:
        parser.Parse("<fs-check>" + "\n".join(lines) + "</fs-check>", True)
    except expat.ExpatError as exc:
        reader.problem(path, exc.lineno, f"not well-formed XML: {expat.ErrorString(exc.code)}")


def _parse_document(tree: Tree, text: str) -> None:
    parser = expat.ParserCreate()
    stack: list[ET.Element] = []
    roots: list[ET.Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = ET.Element(tag, attrs)
        (stack[-1].append(element) if stack else roots.append(element))
        stack.append(element)
        tree._lines[element] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: stack.pop()
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        origin = tree._origins[exc.lineno - 1] if 0 < exc.lineno <= len(tree._origins) else None
        where = f"{tree.relative(origin[0])}:{origin[1]}" if origin else ROOT_FILE
        tree.problems.append(Problem(where, "the assembled document is not well-formed XML "
                                            f"({expat.ErrorString(exc.code)}): check the "
                                            "include tags here are alone on their lines"))
        return
    document = roots[0] if roots else None
    if document is None or document.tag != "document" or \
            document.get("type") != "freeswitch/xml":
        tree.problems.append(Problem(ROOT_FILE, 'the root element must be '
                                                '<document type="freeswitch/xml">'))
        return
    tree.document = document
