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

import os

from ._digest import digest, hex_digest

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

#: the largest deps file read, in bytes; a larger one (or one that is not a regular file) is bad input
MAX_FILE_BYTES = 16 * 1024 * 1024

#: every component of the key, in the order ``explain`` shows them
COMPONENTS = ("requirements", "local", "sources", "python", "venv", "installer", "salt", "skip_imports")


class Inputs:
    """What a caller asked for, as given (paths made absolute)."""

    __slots__ = (
        "deps_files",
        "find_links",
        "installer",
        "offline",
        "options",
        "python",
        "requirements",
        "salt_files",
        "salts",
        "skip_imports",
        "store_write",
        "stores",
        "uv_env",
    )

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
        skip_imports: tuple[str, ...] = (),
        stores: tuple[str, ...] = (),
        store_write: bool = True,
        options: tuple[str, ...] = (),
        uv_env: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.requirements = requirements
        self.deps_files = deps_files
        self.python = python
        self.find_links = find_links
        self.offline = offline  # how to install, not what: not part of the key
        self.salts = salts  #: (where it came from, text): ``--salt`` and ``PENVCACHE_SALT``
        self.salt_files = salt_files
        self.installer = installer  #: ``PENVCACHE_UV``, or "" for the bundled uv
        self.skip_imports = skip_imports  #: ``--skip-import`` and ``PENVCACHE_SKIP_IMPORT``: sorted, no duplicates
        self.stores = stores  #: the shared stores' URLs, in chain order: where from, not what (not in the key)
        self.store_write = store_write  #: publish to them after an install from elsewhere
        #: option lines given as arguments (``--index-url URL``, ``-e ./pkg``, ``--group dev``...), sorted
        self.options = options
        self.uv_env = uv_env  #: :data:`UV_SOURCES` that are set, as (name, value)


#: uv's environment variables that change where packages come from or which versions are allowed: uv reads them,
#: so the key does
UV_SOURCES = (
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_NO_INDEX",
    "UV_PRERELEASE",
)


def uv_environment() -> tuple[tuple[str, str], ...]:
    """The :data:`UV_SOURCES` set in this process's environment."""
    return tuple((name, os.environ[name]) for name in UV_SOURCES if os.environ.get(name))


def has_relative_paths(texts: tuple[str, ...]) -> bool:
    """Whether requirement or option arguments may name a path relative to the current directory."""
    starts = (".", "-e", "--editable", "--project")
    return any(
        ("://" not in text and ("/" in text or text.startswith(starts) or "file:" in text))
        or text.endswith((".whl", ".zip", ".tar.gz"))
        for text in texts
    )


def env_digest(name: str) -> str:
    """What stands for environment variable ``name`` among the deps files' digests (its value's, or unset)."""
    value = os.environ.get(name)
    return "unset" if value is None else hex_digest(value.encode("utf-8", "surrogateescape"))


def inputs_digest(inputs: Inputs, files: Mapping[str, str]) -> str:
    """Digest of the raw dependency inputs, given each deps file's byte digest."""
    parts: list[object] = [inputs.requirements, inputs.deps_files, sorted(files.items())]
    if inputs.options or inputs.uv_env:
        parts += [inputs.options, inputs.uv_env]
    if has_relative_paths(inputs.requirements + inputs.options):
        parts.append(os.getcwd())
    return digest(parts)


def sources(inputs: Inputs, file_sources: list[str]) -> list[str]:
    """Every index and find-links source, from the arguments, the deps files and uv's environment variables, in
    canonical form (credentials hidden: a rotated token is not a miss)."""
    return sorted(
        {
            *(f"--find-links {_hidden(link)}" for link in inputs.find_links),
            *file_sources,
            *(f"{name}={_hidden(value)}" for name, value in inputs.uv_env),
        }
    )


def _hidden(text: str) -> str:
    """``text`` with the credentials of its URLs hidden; :mod:`._redact` is imported only when there can be any."""
    if "@" not in text:
        return text
    from ._redact import redact

    return redact(text)


def fingerprint(components: Mapping[str, str | None]) -> str | None:
    """The key, or ``None`` while a component is unknown (a broken venv, an installer not yet identified)."""
    if any(components.get(name) is None for name in COMPONENTS):
        return None
    return digest({name: components[name] for name in COMPONENTS})


def local_component(local: list[list[Any]]) -> str:
    """The ``local`` component: each local project's path and key, or "" when the set has none."""
    return digest([[path, key] for path, _kind, _keys, key in local]) if local else ""
