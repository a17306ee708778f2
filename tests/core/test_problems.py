"""core/problems.py: formats.Problem objects as validate lists them."""

from hypothesis import given, strategies as st

from ferryman.core.formats import Problem
from ferryman.core.problems import describe, lines, structured

NAME = "name does not follow {version}_{title}.up.sql ...; not a migration"


def test_a_problem_keeps_its_own_parts():
    problem = Problem("/m/1_x.sql", 3, "annotation", "no -- +goose Up", "add it")
    assert describe(problem) == {"file": "/m/1_x.sql", "line": 3, "kind": "annotation",
                                 "message": "no -- +goose Up", "hint": "add it"}


def test_a_text_that_is_not_a_problem_is_kept_whole():
    text = "/m/9_late.up.sql:2: directive 'ferryman:x' must come first (move it)"
    assert describe(text) == {"file": None, "line": None, "kind": "other", "message": text,
                              "hint": None}
    assert structured([text])[0]["files"] == []


def test_up_and_down_with_the_same_problem_merge_but_others_do_not():
    down = Problem("/m/2_x.down.txt", None, "name", NAME, "rename it")
    up = Problem("/m/2_x.up.txt", None, "name", NAME, "rename it")
    other = Problem("/m/3_y.up.txt", None, "name", NAME, "rename it")
    elsewhere = Problem("/n/2_x.down.txt", None, "name", NAME, "rename it")
    items = structured([down, up, other, elsewhere])
    assert [i["file"] for i in items] == ["/m/2_x.up.txt", "/m/3_y.up.txt", "/n/2_x.down.txt"]
    assert items[0]["files"] == ["/m/2_x.up.txt", "/m/2_x.down.txt"]
    assert lines([down, up]) == [f"/m/2_x.up.txt (and 2_x.down.txt): {NAME} (rename it)"]


def test_flyway_v_and_u_files_and_underscored_names_pair_too():
    pairs = [("/m/V3__x.sql", "/m/U3__x.sql"), ("/m/0002_a_up.sql", "/m/0002_a_down.sql"),
             ("/m/1_up.up.sql", "/m/1_up.down.sql")]
    for up, down in pairs:
        items = structured([Problem(down, None, "name", NAME), Problem(up, None, "name", NAME)])
        assert [(i["file"], i["files"]) for i in items] == [(up, [up, down])], items


def test_the_same_message_on_other_lines_or_kinds_stays_apart():
    items = structured([Problem("/m/1_a.up.sql", 2, "control", "NUL"),
                        Problem("/m/1_a.down.sql", 3, "control", "NUL"),
                        Problem("/m/1_a.down.sql", 2, "directive", "NUL")])
    assert len(items) == 3


def test_a_duplicate_versions_up_and_down_files_are_one_entry():
    ups = ["/m/2_a.up.sql", "/m/2_b.up.sql"]
    downs = ["/m/2_a.down.sql", "/m/2_b.down.sql"]
    items = structured([
        Problem(downs[0], None, "duplicate", "version 2 has 2 down files", "keep one",
                files=downs, key=("version", 2)),
        Problem(ups[0], None, "duplicate", "version 2 is used by 2 migrations", "renumber",
                files=ups, key=("version", 2)),
        Problem("/m/3_a.up.sql", None, "duplicate", "version 3 ...", files=["/m/3_a.up.sql"],
                key=("version", 3))])
    assert len(items) == 2 and items[0]["files"] == ups + downs
    assert items[0]["file"] == ups[0] and items[0]["hint"] == "renumber"


def test_a_problem_survives_pickling_with_its_parts():
    import pickle

    problem = Problem("/m/1.sql", None, "duplicate", "twice", "one", files=["a", "b"],
                      key=("version", 1))
    again = pickle.loads(pickle.dumps(problem))
    assert again == problem and (again.files, again.key) == (("a", "b"), ("version", 1))


paths = st.sampled_from(["/m/1_a.up.sql", "/m/1_a.down.sql", "/m/V1__a.sql", "/m/U1__a.sql",
                         "/m/2.sql", "/n/1_a.up.sql"])
problems = st.builds(Problem, paths, st.sampled_from([None, 1, 2]),
                     st.sampled_from(["name", "control"]), st.sampled_from(["x", "y"]))


@given(st.lists(st.one_of(st.text(max_size=50), problems), max_size=8))
def test_any_problems_give_objects_and_no_file_is_lost(found):
    items = structured(found)
    for item in items:
        assert set(item) == {"file", "line", "kind", "message", "hint", "files"}
        assert item["file"] is None or item["file"] in item["files"]
    assert {f for i in items for f in i["files"]} == {
        p.file for p in found if isinstance(p, Problem)}
    assert len(lines(found)) == len(items)
    assert sum(1 for i in items if i["kind"] == "other") == sum(
        1 for p in found if not isinstance(p, Problem))
