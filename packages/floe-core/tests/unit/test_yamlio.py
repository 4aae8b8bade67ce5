"""Reading YAML with the line of every key, and clear errors for broken files."""

from __future__ import annotations

from pathlib import Path

import pytest
from floe_core.errors import FloeError
from floe_core.yamlio import ConfigFileError, Location, load_yaml, parse_yaml

DOCUMENT = """\
apiVersion: floe.dev/v1
metadata:
  name: x
destinations:
  - name: a
    config: {path: /c}
  - name: b
"""


def test_locations_of_keys_and_list_items() -> None:
    loaded = parse_yaml(DOCUMENT, Path("floe.yaml"))
    assert loaded.data["destinations"][1]["name"] == "b"
    assert loaded.locations[("apiVersion",)] == Location(1, 1)
    assert loaded.locations[("metadata", "name")] == Location(3, 3)
    assert loaded.locations[("destinations", 0)] == Location(5, 5)
    assert loaded.locations[("destinations", 0, "config", "path")] == Location(6, 14)
    assert loaded.locations[("destinations", 1, "name")] == Location(7, 5)


def test_locate_falls_back_to_the_nearest_written_ancestor() -> None:
    loaded = parse_yaml(DOCUMENT, Path("floe.yaml"))
    assert loaded.locate(("metadata", "version")) == Location(2, 1)
    assert loaded.locate(("destinations", 1, "sink_type")) == Location(7, 5)
    assert loaded.locate(("nothing", "here")) == Location(1, 1)


def test_duplicate_keys_are_reported_with_every_location() -> None:
    loaded = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\na: 4\n", Path("x.yaml"))
    assert loaded.duplicate_keys == [
        (("b", "c"), (Location(3, 3), Location(4, 3))),
        (("a",), (Location(1, 1), Location(5, 1), Location(6, 1))),
    ]


def test_a_key_written_twice_is_located_where_the_value_used_is() -> None:
    loaded = parse_yaml("d:\n  x: {old: 1}\n  y: 2\n  x: {new: 1}\n", Path("x.yaml"))
    assert loaded.data == {"d": {"x": {"new": 1}, "y": 2}}
    assert loaded.locate(("d", "x")) == Location(4, 3)
    assert loaded.locate(("d", "x", "new")) == Location(4, 7)
    assert ("d", "x", "old") not in loaded.locations


def test_syntax_error_has_line_column_and_the_construct_that_is_open() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml("a: 1\nb: {c: 1, d: 2\ne: 3\n", Path("x.yaml"))
    error = caught.value
    assert isinstance(error, FloeError)
    assert error.location == Location(3, 2)
    assert "is not valid YAML" in error.message
    assert "the {...} mapping that starts at line 2, column 4 is not closed" in error.message
    assert "end it with '}'" in error.hint


def test_a_syntax_error_shows_its_line_with_a_caret() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml("metadata: name: x\n", Path("x.yaml"))
    assert caught.value.message.splitlines()[1:] == [
        "    1 | metadata: name: x",
        "      |               ^",
    ]
    assert "a ':' where a value was expected" in caught.value.message
    assert "mapping values" not in caught.value.message  # the parser's words are not shown


@pytest.mark.parametrize("ending", ["\n", "", "\n\n  \n"])
def test_a_list_left_open_at_the_end_of_the_file_points_where_it_starts(ending: str) -> None:
    text = "apiVersion: floe.dev/v1\napproved_sinks: [sql_database, rest_api" + ending
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml(text, Path("manifest.yaml"))
    error = caught.value
    assert error.location == Location(2, 17)
    assert error.message.splitlines()[1:] == [
        "    2 | approved_sinks: [sql_database, rest_api",
        "      |                 ^",
    ]
    assert "the [...] list that starts at line 2, column 17 is not closed" in error.message


_CONFIG = "destinations:\n  - name: a\n    config:\n"


def test_a_key_indented_more_than_the_one_before_it_is_named_as_the_cause() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml(_CONFIG + "     table: customers\n      mode: upsert\n", Path("floe.yaml"))
    error = caught.value
    assert error.location == Location(5, 7)
    assert error.message.splitlines()[0] == (
        "is not valid YAML: lines 4 and 5 are indented differently (5 and 6 spaces)"
    )
    assert "    5 |       mode: upsert" in error.message
    assert error.hint.startswith(
        "keys of one mapping start in the same column: indent line 5 like line 4"
    )


def test_a_key_indented_less_but_not_like_any_key_above_is_named_as_the_cause() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml(_CONFIG + "      table: customers\n     mode: upsert\n", Path("floe.yaml"))
    error = caught.value
    assert error.location == Location(5, 6)
    assert error.message.splitlines()[0] == (
        "is not valid YAML: line 5 is indented 5 spaces, like no key above it (line 4 has 6)"
    )
    assert "indent line 5 like line 4 (6 spaces)" in error.hint


def test_a_value_holding_a_colon_is_still_explained_as_that() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml("a:\n  b: 1\n  c: d: e\n", Path("x.yaml"))
    assert "a ':' where a value was expected" in caught.value.message
    assert "indented" not in caught.value.message


def test_a_tab_in_the_indentation_is_named_and_explained() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml("metadata:\n\tname: x\n", Path("x.yaml"))
    error = caught.value
    assert "line 2 is indented with a tab (column 1)" in error.message
    assert "    2 | →name: x" in error.message
    assert "YAML does not allow tabs for indentation" in error.hint


def test_several_documents_are_refused() -> None:
    with pytest.raises(ConfigFileError, match="single document") as caught:
        parse_yaml("a: 1\n---\nb: 2\n", Path("x.yaml"))
    assert caught.value.location is not None


def test_empty_file_has_no_data() -> None:
    assert parse_yaml("# only a comment\n", Path("x.yaml")).data is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="file not found") as caught:
        load_yaml(tmp_path / "floe.yaml")
    assert "--spec" in caught.value.hint


def test_directory_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="is a directory"):
        load_yaml(tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigFileError, match="not UTF-8"):
        load_yaml(latin1)


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(ConfigFileError, match="is not valid YAML"):
        parse_yaml("a: !!python/object/apply:os.system ['true']\n", Path("x.yaml"))
