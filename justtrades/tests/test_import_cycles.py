"""No file cycles anywhere in the project: the import graph of every module (imports inside
functions counted too) has no loop, so the signal path reads one way, webhook to broker."""

from __future__ import annotations

from justtrades.testing.imports import import_cycle, import_graph


def test_the_modules_import_each_other_without_a_cycle():
    assert import_cycle(import_graph(in_functions=False)) is None


def test_no_cycle_hides_in_a_function_level_import():
    assert import_cycle(import_graph(in_functions=True)) is None


def test_the_check_finds_a_cycle_when_there_is_one():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_hides_an_import_inside_a_function():
    """With no cycle to dodge, every import of a project module stands at the top of its file,
    where a reader sees it (the test helpers load the app lazily and are left out)."""
    top, everywhere = import_graph(in_functions=False), import_graph(in_functions=True)
    hidden = {
        f"{name} → {dep}"
        for name, deps in everywhere.items()
        if not name.startswith("justtrades.testing")
        for dep in deps - top[name]
    }
    assert hidden == set()
