"""The dependency graph, with no database."""

import pytest

from ferryman.coordinator.graph import Graph
from ferryman.errors import InputError

SHOP = {"users": [], "letters": ["users"], "museum": ["letters", "users"], "search": ["users"],
        "stats": ["museum", "search"]}


def test_layers_put_each_service_after_what_it_depends_on():
    layers = Graph(SHOP).layers()
    assert layers == [["users"], ["letters", "search"], ["museum"], ["stats"]]
    position = {name: i for i, layer in enumerate(layers) for name in layer}
    for name, deps in SHOP.items():
        assert all(position[d] < position[name] for d in deps)


def test_a_cycle_is_refused_and_named():
    with pytest.raises(InputError) as caught:
        Graph({"a": ["c"], "b": ["a"], "c": ["b"], "d": []})
    message = caught.value.message
    cycle = message.split(": ", 1)[1].split(" -> ")
    assert "cycle" in message and len(cycle) == 4 and cycle[0] == cycle[-1]
    assert sorted(cycle[:3]) == ["a", "b", "c"]


def test_a_service_that_depends_on_itself_is_a_cycle():
    with pytest.raises(InputError) as caught:
        Graph({"a": ["a"]})
    assert "a -> a" in caught.value.message


def test_an_unknown_dependency_is_refused_and_named():
    with pytest.raises(InputError) as caught:
        Graph({"letters": ["usres"], "users": []})
    assert "letters -> usres" in caught.value.message


def test_dependents_are_transitive():
    assert Graph(SHOP).dependents("users") == {"letters", "museum", "search", "stats"}
    assert Graph(SHOP).dependents("search") == {"stats"}
    assert Graph(SHOP).dependents("stats") == set()


def test_the_longest_chain():
    assert Graph(SHOP).longest_chain() == ["users", "letters", "museum", "stats"]


def test_select_keeps_only_the_named_services():
    graph = Graph(SHOP).select(["museum", "stats"])
    assert graph.depends_on == {"museum": [], "stats": ["museum"]}
    with pytest.raises(InputError):
        Graph(SHOP).select(["nope"])


def test_the_picture_has_a_box_per_service_and_an_arrow_per_dependency():
    svg = Graph(SHOP).svg({"users": "ok", "letters": "failed"})
    assert svg.count('class="service"') == len(SHOP)
    assert svg.count('class="edge"') == sum(len(d) for d in SHOP.values())
    assert 'data-service="letters" data-status="failed"' in svg
    assert 'data-service="museum" data-status="pending"' in svg


def test_names_are_escaped_in_the_picture():
    svg = Graph({"<b>": []}).svg()
    assert "<b>" not in svg
    assert 'data-service="&lt;b&gt;"' in svg
