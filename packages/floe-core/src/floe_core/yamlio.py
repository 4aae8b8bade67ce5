"""Read YAML configuration files and remember where every key and list item is.

Errors about ``floe.yaml`` and ``manifest.yaml`` point at a line, so the loader keeps, for
each path into the document (``("destinations", 2, "sink_type")``), the line and column where
it is written. It also tells what PyYAML silently accepts: a key written twice in one mapping
(the last one wins, so its line is the one kept), and refuses a file with several documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from floe_core.errors import FloeError

__all__ = [
    "ConfigFileError",
    "LoadedYaml",
    "Location",
    "YamlPath",
    "format_path",
    "load_yaml",
    "parse_yaml",
]

#: Keys and list indexes leading to a value inside a document.
YamlPath = tuple[str | int, ...]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Iterable[str | int]) -> str:
    """``("destinations", 2, "sink_type")`` -> ``destinations[2].sink_type``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in a file."""

    line: int
    column: int


class ConfigFileError(FloeError):
    """A configuration file cannot be read or is not well-formed YAML.

    Attributes:
        path: The file.
        location: Where the problem is, when known.
    """

    def __init__(
        self, path: Path, message: str, *, hint: str, location: Location | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.location = location


@dataclass(frozen=True)
class LoadedYaml:
    """A parsed YAML document and where its parts are written.

    Attributes:
        path: The file it came from.
        data: The parsed document.
        locations: Path -> where that key (for mapping entries) or item (for list items) is;
            for a key written twice, where the one whose value is used (the last) is.
        duplicate_keys: Keys written more than once in the same mapping: each path once,
            with where every occurrence is, in file order.
    """

    path: Path
    data: Any
    locations: dict[YamlPath, Location] = field(default_factory=dict)
    duplicate_keys: list[tuple[YamlPath, tuple[Location, ...]]] = field(default_factory=list)

    def locate(self, path: YamlPath) -> Location | None:
        """Where ``path`` is written, or its nearest written ancestor (e.g. for a missing key)."""
        for end in range(len(path), -1, -1):
            location = self.locations.get(tuple(path[:end]))
            if location is not None:
                return location
        return None


def load_yaml(path: Path) -> LoadedYaml:
    """Read and parse one YAML file.

    Raises:
        ConfigFileError: The file is missing, unreadable, not UTF-8, or not valid YAML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigFileError(
            path,
            "file not found",
            hint="check the path, or point at the project with --project DIR (files elsewhere: "
            "--spec / --manifest)",
        ) from exc
    except IsADirectoryError as exc:
        raise ConfigFileError(path, "is a directory, not a file", hint="name the file") from exc
    except UnicodeDecodeError as exc:
        raise ConfigFileError(path, "is not UTF-8 text", hint="save it as UTF-8") from exc
    except OSError as exc:
        raise ConfigFileError(
            path, f"cannot be read ({exc.strerror})", hint="check its permissions"
        ) from exc
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path) -> LoadedYaml:
    """Parse YAML ``text`` that came from ``path``.

    Raises:
        ConfigFileError: ``text`` is not one valid YAML document.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(path, exc, text) from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(
            path, f"is not valid YAML: {exc}", hint="fix the YAML syntax"
        ) from exc
    finally:
        loader.dispose()
    loaded = LoadedYaml(path=path, data=data)
    if node is not None:
        loaded.locations[()] = _location(node.start_mark)
        _walk(node, (), loaded)
    return loaded


#: The parser's words for what it was reading, in the user's.
_CONSTRUCTS = {
    "flow mapping": "{...} mapping",
    "flow sequence": "[...] list",
    "block mapping": "mapping",
    "block collection": "indented block",
    "a block mapping": "a mapping",
    "a flow mapping": "a {...} mapping",
    "a block collection": "an indented block",
    "a quoted scalar": "a quoted string",
    "a plain scalar": "a value",
}

#: The start of the parser's words for what went wrong, in the user's, with what to do.
_PROBLEMS = [
    (
        "mapping values are not allowed here",
        "a ':' where a value was expected",
        "a value cannot itself be `key: value` on the same line: quote it, or put the inner "
        "keys on their own lines, indented",
    ),
    (
        "could not find expected ':'",
        "a line that is not `key: value`",
        "add the ':' (and a space after it), or indent the line like the ones it belongs with",
    ),
    (
        "expected ',' or '}'",
        "a {...} mapping is not closed",
        "end it with '}' on the line it starts, or separate its entries with ','",
    ),
    (
        "expected ',' or ']'",
        "a [...] list is not closed",
        "end it with ']' on the line it starts, or separate its items with ','",
    ),
    (
        "found unexpected end of stream",
        "the file ends inside a quoted string or bracket",
        "close the quote, '}' or ']' that is still open",
    ),
]
_DEFAULT_HINT = (
    "fix the YAML syntax at that line (check indentation, unclosed quotes or brackets, and a "
    "space after each ':')"
)

_TAB_HINT = (
    "YAML does not allow tabs for indentation: replace the tab(s) with spaces "
    "(your editor can show them, and convert tabs to spaces)"
)


def _syntax_error(path: Path, exc: yaml.MarkedYAMLError, text: str) -> ConfigFileError:
    mark = exc.problem_mark or exc.context_mark
    location = _location(mark) if mark is not None else None
    if location is not None and _past_the_end(text, location):
        # The parser stopped at the end of the file: point where what is still open starts,
        # or else at the end of the last line, so that the line can be shown.
        location = _location(exc.context_mark) if exc.context_mark else _end_of_text(text)
    indentation = _indentation_problem(text, location)
    if indentation is not None:
        location, problem, hint = indentation
        excerpt = _excerpt(text, location)
        return ConfigFileError(
            path, f"is not valid YAML: {problem}{excerpt}", hint=hint, location=location
        )
    raw = exc.problem or "syntax error"
    problem, hint = next(
        ((words, fix) for start, words, fix in _PROBLEMS if raw.startswith(start)),
        (_user_words(raw), _DEFAULT_HINT),
    )
    unclosed = problem.endswith("is not closed")
    if exc.context:
        # e.g. "while parsing a flow mapping": say where that construct started.
        context = _user_words(exc.context.removeprefix("while ").replace("parsing ", "in "))
        if exc.context_mark is not None and exc.context_mark is not mark:
            start = _location(exc.context_mark)
            at = f"starts at line {start.line}, column {start.column}"
            context += f" that {at}"
            if unclosed:  # "the {...} mapping that starts at line 11, column 13 is not closed"
                problem = problem.replace("a ", "the ", 1).replace(" is", f" that {at} is", 1)
        if not unclosed:
            problem = f"{problem} ({context})"
    tab = _tab_near(text, location)
    if tab is not None:
        where = f"line {tab.line} is indented with a tab (column {tab.column})"
        problem = where if "'\\t'" in raw else f"{where}; {problem}"
        hint = _TAB_HINT
    excerpt = _excerpt(text, location) if location is not None else ""
    return ConfigFileError(
        path, f"is not valid YAML: {problem}{excerpt}", hint=hint, location=location
    )


def _past_the_end(text: str, location: Location) -> bool:
    """True when ``location`` is after the last character that is not white space."""
    lines = text.splitlines()
    rest = lines[location.line - 1 :]
    if rest:
        rest[0] = rest[0][location.column - 1 :]
    return not any(line.strip() for line in rest)


def _end_of_text(text: str) -> Location | None:
    lines = text.splitlines()
    for number in range(len(lines), 0, -1):
        if lines[number - 1].strip():
            return Location(line=number, column=len(lines[number - 1].rstrip()) + 1)
    return None


def _content_lines(text: str) -> list[tuple[int, int, str]]:
    """``(line number, column of its key, its text after the indentation)`` of each line that
    holds more than a comment; a list item's key is after its ``- ``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.lstrip(" ")
        if not content or content.startswith("#") or "\t" in line[: len(line) - len(content)]:
            continue
        column = len(line) - len(content)
        while content.startswith("- "):
            stripped = content[2:].lstrip(" ")
            column += len(content) - len(stripped)
            content = stripped
        found.append((number, column, content))
    return found


def _indentation_problem(text: str, location: Location | None) -> tuple[Location, str, str] | None:
    """What is wrong when the error's line is indented unlike the keys beside it.

    Two keys of one mapping must start in the same column. A key indented more than the
    ``key: value`` line before it (which cannot have keys below it) reads to the parser as
    the value going on; one indented less, but not as far back as an enclosing key, belongs
    to no mapping. Both are reported as a misplaced ':' or block by the parser.
    """
    if location is None:
        return None
    lines = _content_lines(text)
    index = next((i for i, item in enumerate(lines) if item[0] == location.line), None)
    if not index:  # no such line, or no line before it
        return None
    number, column, content = lines[index]
    before_number, before_column, before = lines[index - 1]
    if not _is_key(content) or not _is_key(before):
        return None
    here = Location(line=number, column=column + 1)
    if column > before_column and _has_value(before):
        problem = (
            f"lines {before_number} and {number} are indented differently ({before_column} and "
            f"{column} spaces)"
        )
        hint = (
            f"keys of one mapping start in the same column: indent line {number} like line "
            f"{before_number}, or line {before_number} like line {number} (a key with its "
            "value on the line has nothing indented below it)"
        )
        return here, problem, hint
    if column < before_column:
        enclosing = [c for _, c, text_ in lines[:index] if c < before_column and _is_key(text_)]
        levels = sorted(set(enclosing) | {before_column})
        if column not in levels:
            problem = (
                f"line {number} is indented {column} spaces, like no key above it (line "
                f"{before_number} has {before_column})"
            )
            hint = (
                f"keys of one mapping start in the same column: indent line {number} like "
                f"line {before_number} ({before_column} spaces), or like the key it belongs "
                f"under ({', '.join(map(str, levels))} spaces are in use here)"
            )
            return here, problem, hint
    return None


def _is_key(content: str) -> bool:
    """True for a plain ``key:`` or ``key: value`` line."""
    key, colon, _ = content.partition(":")
    return bool(colon) and bool(key.strip()) and not key.startswith(("'", '"', "{", "["))


def _has_value(content: str) -> bool:
    """True when a ``key: value`` line holds its value (so nothing can be indented below it)."""
    value = content.partition(":")[2].strip()
    return bool(value) and not value.startswith(("#", "|", ">", "&"))


def _user_words(text: str) -> str:
    for jargon, words in sorted(_CONSTRUCTS.items(), key=lambda item: -len(item[0])):
        text = text.replace(jargon, words)
    return text.replace("'\\t'", "a tab").replace("<block end>", "the end of the block")


def _tab_near(text: str, location: Location | None) -> Location | None:
    """The first tab in the indentation of the error's line or the lines just before it."""
    if location is None:
        return None
    lines = text.splitlines()
    for number in range(location.line, max(location.line - 3, 0), -1):
        if number > len(lines):
            continue
        line = lines[number - 1]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return Location(line=number, column=indent.index("\t") + 1)
    return None


def _excerpt(text: str, location: Location) -> str:
    """The offending line, numbered, with a caret under the column (tabs shown as '→')."""
    lines = text.splitlines()
    if not 1 <= location.line <= len(lines):
        return ""
    line = lines[location.line - 1].replace("\t", "→")
    number = str(location.line)
    pad = " " * len(number)
    caret = " " * (location.column - 1) + "^"
    return f"\n    {number} | {line}\n    {pad} | {caret}"


def _location(mark: Any) -> Location:
    return Location(line=mark.line + 1, column=mark.column + 1)


def _walk(node: yaml.Node, path: YamlPath, loaded: LoadedYaml) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, list[Location]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key: str | int = key_node.value
            key_path = (*path, key)
            location = _location(key_node.start_mark)
            if key_node.value in seen:
                # The last one is the value used: forget where the earlier one's parts were.
                for stale in [p for p in loaded.locations if p[: len(key_path)] == key_path]:
                    del loaded.locations[stale]
            seen.setdefault(key_node.value, []).append(location)
            loaded.locations[key_path] = location
            _walk(value_node, key_path, loaded)
        loaded.duplicate_keys.extend(
            ((*path, key), tuple(where)) for key, where in seen.items() if len(where) > 1
        )
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_path = (*path, index)
            loaded.locations[item_path] = _location(item.start_mark)
            _walk(item, item_path, loaded)
