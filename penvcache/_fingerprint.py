"""The cache key: which inputs change whether a venv satisfies a dependency set, and how they are hashed.

Two digests of the dependency set are kept. ``inputs`` hashes the raw bytes (requirement strings and
every deps file read, nested ones included) and needs no parsing; ``deps`` hashes the normalised set.
When ``inputs`` equals the recorded one, the recorded ``deps`` digest is reused, so a hit never parses.
"""

from __future__ import annotations

from ._digest import digest

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


class Inputs:
    """What a caller asked for, as given (paths made absolute)."""

    __slots__ = ("deps_files", "find_links", "offline", "python", "requirements")

    def __init__(
        self,
        requirements: tuple[str, ...],
        deps_files: tuple[str, ...],
        python: str | None,
        find_links: tuple[str, ...],
        offline: bool,
    ) -> None:
        self.requirements = requirements
        self.deps_files = deps_files
        self.python = python
        self.find_links = find_links
        self.offline = offline


def inputs_digest(inputs: Inputs, files: Mapping[str, str]) -> str:
    """Digest of the raw dependency inputs, given each deps file's byte digest."""
    return digest([inputs.requirements, inputs.deps_files, sorted(files.items())])


def deps_digest(normalised: Sequence[str]) -> str:
    """Digest of the normalised dependency set."""
    return digest(list(normalised))


def fingerprint(inputs: Inputs, deps: str, venv_identity: Mapping[str, object]) -> str:
    """The key: the normalised deps, the venv instance and its Python, and the install sources."""
    return digest(
        {
            "deps": deps,
            "venv": venv_identity,
            "python_request": inputs.python or "",
            "find_links": sorted(set(inputs.find_links)),
            "offline": inputs.offline,
        }
    )
