"""core/problems.py: problem texts (and formats.Problem) as objects."""

from hypothesis import given, strategies as st

from ferryman.core.formats import Problem
from ferryman.core.problems import describe, structured


def test_a_text_with_a_file_and_line_is_taken_apart():
    item = describe("/m/9_late.up.sql:2: directive 'ferryman:x' must come first (move it)")
    assert item == {"file": "/m/9_late.up.sql", "line": 2, "kind": "directive",
                    "message": "directive 'ferryman:x' must come first", "hint": "move it"}


def test_a_formats_problem_keeps_its_own_parts():
    problem = Problem("/m/1_x.sql", 3, "annotation", "no -- +goose Up", "add it")
    assert describe(problem) == {"file": "/m/1_x.sql", "line": 3, "kind": "annotation",
                                 "message": "no -- +goose Up", "hint": "add it"}


def test_a_text_without_a_file_is_kept_whole():
    item = describe("something odd happened")
    assert item["file"] is None and item["message"] == "something odd happened"
    assert item["kind"] == "other"


def test_up_and_down_with_the_same_problem_merge_but_others_do_not():
    up = "/m/2_x.up.txt: extension .txt: ferryman runs SQL files only (rename it)"
    down = "/m/2_x.down.txt: extension .txt: ferryman runs SQL files only (rename it)"
    other = "/m/3_y.up.txt: extension .txt: ferryman runs SQL files only (rename it)"
    items = structured([down, up, other])
    assert [i["file"] for i in items] == ["/m/2_x.up.txt", "/m/3_y.up.txt"]
    assert items[0]["files"] == ["/m/2_x.down.txt", "/m/2_x.up.txt"]


@given(st.lists(st.text(max_size=200), max_size=8))
def test_any_texts_give_objects_and_nothing_is_lost(texts):
    items = structured(texts)
    for item in items:
        assert set(item) == {"file", "line", "kind", "message", "hint", "files"}
    # every text is one entry, or one of the files of a merged entry
    merged = [i for i in items if i["kind"] != "duplicate" and len(i["files"]) > 1]
    assert len(items) - len(merged) + sum(len(i["files"]) for i in merged) == len(texts)
