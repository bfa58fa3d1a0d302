"""The package's shape: its modules import one another downward only (no cycle), lazy imports included; a call's
request is one value object."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import penvcache
from penvcache import InUse
from penvcache._request import Request

PACKAGE = Path(penvcache.__file__).parent


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:
            found.update([node.module.split(".")[0]] if node.module else (alias.name for alias in node.names))
        elif node.level == 0 and node.module and node.module.split(".")[0] == "penvcache":
            parts = node.module.split(".")
            found.update(parts[1:2] if len(parts) > 1 else (alias.name for alias in node.names))
    return found & modules


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another, directly or through others."""

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for found in graph[stack.pop()] - seen:
                seen.add(found)
                stack.append(found)
        return seen

    reach = {module: reachable(module) for module in graph}
    groups = {frozenset(other for other in reach[module] if module in reach[other]) for module in graph}
    return sorted(sorted(group) for group in groups if len(group) > 1)


def test_no_module_of_the_package_imports_one_that_imports_it_back() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    graph = {module: _imports(PACKAGE / f"{module}.py", modules) for module in modules}
    assert "_key" in graph["_explain"]  # the graph is read (an empty one has no cycle either)
    assert _cycles(graph) == []


def test_a_request_copy_changes_what_it_is_told_and_shares_the_rest() -> None:
    request = Request("venv", ("alpha",), deps_files=("deps.txt",), lock_timeout=5.0, verbose=True)
    changed = request.copy(lock_timeout=1.0, store_write=False)
    assert (changed.lock_timeout, changed.store_write) == (1.0, False)
    assert (request.lock_timeout, request.store_write) == (5.0, True)
    assert [getattr(changed, name) for name in Request.__slots__ if name not in ("lock_timeout", "store_write")] == [
        getattr(request, name) for name in Request.__slots__ if name not in ("lock_timeout", "store_write")
    ]
    with pytest.raises(TypeError, match="lock_timeot"):
        request.copy(lock_timeot=1.0)


def test_in_use_is_still_made_from_a_venv_requirements_and_ensures_keywords() -> None:
    made = InUse("venv", ("alpha",), lock_timeout=2.0, retry=True).request
    assert (made.venv, made.requirements, made.lock_timeout, made.retry) == ("venv", ("alpha",), 2.0, True)
    request = Request("venv", ("alpha",))
    assert InUse(request).request is request
