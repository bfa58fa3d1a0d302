"""The cache key: which inputs change whether a venv satisfies a dependency set, and how they are hashed.

The key is a digest of named components (:data:`COMPONENTS`), each one a digest or a short value, so that
``explain`` can say which one changed. Two digests of the dependency set are kept. ``inputs`` hashes the raw
bytes (requirement strings and every deps file read, nested ones included) and needs no parsing; the
``requirements`` component hashes the normalised set. When ``inputs`` equals the recorded one, the recorded
component is reused, so a hit never parses. Salt files are read as raw bytes on every call, like deps files.
The ``local`` component is what would change the metadata of each local project or archive a requirement
points at (see :mod:`penvcache._local`), computed again on every hit from what was recorded.
"""

from __future__ import annotations

from ._digest import digest

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

#: every component of the key, in the order ``explain`` shows them
COMPONENTS = ("requirements", "local", "sources", "python", "venv", "installer", "salt")


class Inputs:
    """What a caller asked for, as given (paths made absolute)."""

    __slots__ = ("deps_files", "find_links", "installer", "offline", "python", "requirements", "salt_files", "salts")

    def __init__(  # noqa: PLR0917
        self,
        requirements: tuple[str, ...],
        deps_files: tuple[str, ...],
        python: str | None,
        find_links: tuple[str, ...],
        offline: bool,
        salts: tuple[tuple[str, str], ...] = (),
        salt_files: tuple[str, ...] = (),
        installer: str = "",
    ) -> None:
        self.requirements = requirements
        self.deps_files = deps_files
        self.python = python
        self.find_links = find_links
        self.offline = offline  # how to install, not what: not part of the key
        self.salts = salts  #: (where it came from, text): ``--salt`` and ``PENVCACHE_SALT``
        self.salt_files = salt_files
        self.installer = installer  #: ``PENVCACHE_UV``, or "" for the bundled uv


def inputs_digest(inputs: Inputs, files: Mapping[str, str]) -> str:
    """Digest of the raw dependency inputs, given each deps file's byte digest."""
    return digest([inputs.requirements, inputs.deps_files, sorted(files.items())])


def sources(inputs: Inputs, file_sources: list[str]) -> list[str]:
    """Every index and find-links source, from the arguments and the deps files, in canonical form."""
    return sorted({*(f"--find-links {link}" for link in inputs.find_links), *file_sources})


def fingerprint(components: Mapping[str, str | None]) -> str | None:
    """The key, or ``None`` while a component is unknown (a broken venv, an installer not yet identified)."""
    if any(components.get(name) is None for name in COMPONENTS):
        return None
    return digest({name: components[name] for name in COMPONENTS})


def local_component(local: list[list[Any]]) -> str:
    """The ``local`` component: each local project's path and key, or "" when the set has none."""
    return digest([[path, key] for path, _kind, _keys, key in local]) if local else ""
