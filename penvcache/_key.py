"""The key of a call and how it compares with what was recorded: its inputs and components, the fingerprint,
the venv's content stamp, and the key built now.

The key is a digest of named components (:data:`COMPONENTS`), each one a digest or a short value, so that
``explain`` can say which one changed. Two digests of the dependency set are kept. ``inputs`` hashes the raw
bytes (requirement strings and every deps file read, nested ones included) and needs no parsing; the
``requirements`` component hashes the normalised set. When ``inputs`` equals the recorded one, the recorded
component is reused, so a hit never parses. Salt files are read as raw bytes on every call, like deps files.
The ``local`` component is what would change the metadata of each local project or archive a requirement
points at (see :mod:`penvcache._local`), computed again on every hit from what was recorded.

A hit builds the key from raw bytes and the record alone (:func:`recorded_deps`, :func:`installer_stand_in`):
nothing is parsed, no process started. The exact key (``exact=True``) parses the deps and identifies the installer.
Used by the ensure flow (:mod:`._coordinator`) and by ``explain`` (:mod:`._explain`); it imports neither.

The stamp (level 1 of validation) is a digest of stat facts of the paths validation depended on: no file is
hashed on a hit.
"""

from __future__ import annotations

import marshal
import os
import sys

from . import _state
from ._digest import MAX_FILE_BYTES, digest, env_digest, hex_digest
from ._venv import Venv

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from ._requirements import DepsSet

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


#: uv's environment variables that change where packages come from, which versions are allowed or how they are
#: built, as ``uv pip install`` reads them (``uv pip install --help`` names them): uv reads them, so the key does.
#: Not uv's configuration files (``uv.toml``, ``[tool.uv]``; the user's and the system's), nor ``UV_NO_CONFIG``,
#: which only turns them off: finding the file uv would read costs a hit a walk up the directories.
UV_SOURCES = (
    "UV_DEFAULT_INDEX",
    "UV_EXCLUDE_NEWER",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_INDEX",
    "UV_INDEX_STRATEGY",
    "UV_INDEX_URL",
    "UV_NO_BINARY",
    "UV_NO_BINARY_PACKAGE",
    "UV_NO_BUILD",
    "UV_NO_BUILD_ISOLATION",
    "UV_NO_BUILD_PACKAGE",
    "UV_NO_EDITABLE",
    "UV_NO_INDEX",
    "UV_NO_SOURCES",
    "UV_NO_SOURCES_PACKAGE",
    "UV_PRERELEASE",
    "UV_PROJECT",
    "UV_RESOLUTION",
    "UV_TORCH_BACKEND",
    "UV_WORKING_DIR",
)
#: those of uv's variables that name files (space-separated, but for ``UV_CONFIG_FILE``): keyed by their
#: content, read on every call as salt files are (nothing is read while none is set)
UV_FILES = ("UV_BUILD_CONSTRAINT", "UV_CONFIG_FILE", "UV_CONSTRAINT", "UV_EXCLUDE", "UV_OVERRIDE")
_UV_NAMES = frozenset(UV_SOURCES + UV_FILES)


def uv_environment() -> tuple[tuple[str, str], ...]:
    """The :data:`UV_SOURCES` and :data:`UV_FILES` set in this process's environment, each file's name followed by
    its content's digest (``missing`` when it cannot be read: uv says why)."""
    environ = os.environ
    # one pass over the environment (14 us with 35 variables, 24 us with 100), not a lookup of each name (50 us)
    found = [(name, environ[name]) for name in _UV_NAMES.intersection(environ) if environ[name]]
    for i, (name, value) in enumerate(found):
        if name in UV_FILES:
            paths = [value] if name == "UV_CONFIG_FILE" else value.split()
            found[i] = (name, " ".join(f"{path} ({_content(path)})" for path in paths))
    return tuple(sorted(found))


def _content(path: str) -> str:
    data = _state.read_regular(path)  # never a FIFO or a device: a hit must not hang
    return "missing" if data is None else "sha256 " + hex_digest(data)[:16]


def has_relative_paths(texts: tuple[str, ...]) -> bool:
    """Whether requirement or option arguments may name a path relative to the current directory."""
    starts = (".", "-e", "--editable", "--project")
    return any(
        ("://" not in text and ("/" in text or text.startswith(starts) or "file:" in text))
        or text.endswith((".whl", ".zip", ".tar.gz"))
        for text in texts
    )


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
    canonical form (credentials hidden: a rotated token is not a miss). A variable that an argument overrides (as
    uv's own option would) is not one: a deps file's source is searched with it, an argument's without it."""
    uv_env = inputs.uv_env
    if uv_env and (inputs.find_links or inputs.options):
        overridden = _overridden(inputs)
        uv_env = tuple((name, value) for name, value in uv_env if name not in overridden)
    return sorted(
        {
            *(f"--find-links {_hidden(link)}" for link in inputs.find_links),
            *file_sources,
            *(f"{name}={_hidden(value)}" for name, value in uv_env),
        }
    )


def _overridden(inputs: Inputs) -> set[str]:
    """uv's variables that penvcache's arguments replace (see :func:`._installer.index_environment`)."""
    given = {option.strip().partition(" ")[0] for option in inputs.options}  # as _requirements reads them
    names = {"UV_FIND_LINKS"} if inputs.find_links else set()
    if given & {"-i", "--index-url", "--default-index"}:  # UV_DEFAULT_INDEX, over UV_INDEX_URL too
        names |= {"UV_DEFAULT_INDEX", "UV_INDEX_URL"}
    if given & {"--extra-index-url", "--index"}:
        names.add("UV_EXTRA_INDEX_URL")
    return names


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


def take(paths: Iterable[str]) -> str:
    """A digest that changes when any path appears, disappears, is replaced or is modified.

    The paths themselves are recorded beside the stamp, so only their stat facts are hashed (in one call:
    at 500 dependencies a hit stats 1,500 paths, and this is most of what it costs).
    """
    return stamp_of(facts(paths))


def facts(paths: Iterable[str]) -> list[tuple[int, int, int] | None]:
    """Each path's stat facts as :func:`take` hashes them (the validation probe reads the same ones)."""
    stat = os.stat
    found: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = stat(path)
        except OSError:
            found.append(None)
        else:
            found.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return found


def stamp_of(found: list[tuple[int, int, int] | None]) -> str:
    """The stamp of stat facts taken earlier: :func:`take` of the same paths while they are unchanged."""
    return hex_digest(marshal.dumps(found, 2))  # version 2: no back-references, the same bytes for equal facts


class Key:
    """The current key's components; the deps are parsed only when their raw inputs differ from the record."""

    def __init__(self, inputs: str, files: dict[str, str], requirements: str, file_sources: list[str]) -> None:
        self.fingerprint: str | None = None  # None while a component is unknown
        self.components: dict[str, str | None] = {}
        self.inputs = inputs
        self.files = files
        self.requirements = requirements
        self.file_sources = file_sources
        self.deps: DepsSet | None = None
        self.identity: dict[str, Any] | None = None  # the venv's, while it is usable
        self.salt: list[list[str]] = []
        self.installer: dict[str, Any] | None = None  # identified for real (a miss), not the hit's stand-in
        self.components_sources: list[str] = []
        self.python_request = ""
        self.local: list[list[Any]] = []  #: each local project or archive: what _local.describe records
        self.skip_imports: tuple[str, ...] = ()


def parse(inputs: Inputs) -> DepsSet:
    """The set the inputs name, with what uv's ``UV_CONSTRAINT``, ``UV_OVERRIDE`` and ``UV_EXCLUDE`` files say: the
    files these read (nested ones, the variables they expand) are in the key as the deps files are."""
    from ._requirements import read_deps

    return read_deps(inputs.requirements, inputs.deps_files, inputs.options).with_uv_files()


def build(
    inputs: Inputs,
    venv: Venv,
    state: dict[str, Any] | None,
    *,
    exact: bool = False,
    deps: DepsSet | None = None,
    installer: dict[str, Any] | None = None,
) -> Key:
    """The current key. The deps are parsed only when their raw bytes differ from what ``state`` recorded;
    the installer is identified only when ``exact`` (else its recorded stand-in must still hold)."""
    key = None if deps else recorded_deps(inputs, state)
    if key is None:
        deps = deps or parse(inputs)
        key = Key(
            inputs_digest(inputs, deps.files),
            deps.files,
            digest(deps.requirement_lines()),
            deps.source_lines(),
        )
        key.deps = deps
    key.components_sources = sources(inputs, key.file_sources)
    key.python_request = inputs.python or ""
    key.salt = _salt(inputs)
    key.skip_imports = inputs.skip_imports
    components = key.components
    components["requirements"] = key.requirements
    key.local = _local_projects(key.deps, state)
    components["local"] = local_component(key.local)
    components["sources"] = digest(key.components_sources)
    components["salt"] = digest(key.salt) if key.salt else ""
    components["skip_imports"] = digest(list(inputs.skip_imports)) if inputs.skip_imports else ""
    if exact:
        from ._installer import identify

        key.installer = installer or identify(inputs.installer)
        components["installer"] = key.installer["version"]
    else:
        components["installer"] = _installer_stand_in(inputs, state)
    set_identity(key, identity_of(venv))
    return key


def identity_of(venv: Venv) -> dict[str, Any] | None:
    """The venv's identity (:meth:`Venv.identity`), or ``None`` while it is broken."""
    if venv.problem() is not None:
        return None
    try:
        return venv.identity()
    except OSError:  # the venv changed under us; treat it as broken
        return None


def set_identity(key: Key, identity: dict[str, Any] | None) -> None:
    """Give ``key`` the venv ``identity`` (``None``: broken) and the fingerprint that follows."""
    key.identity = identity
    components = key.components
    if identity is None:
        components["python"] = components["venv"] = None
    else:
        components["python"] = digest([key.python_request, identity["base_python"]])
        components["venv"] = digest(identity["pyvenv_cfg"])
    key.fingerprint = fingerprint(components)


def _local_projects(deps: DepsSet | None, state: dict[str, Any] | None) -> list[list[Any]]:
    """The local projects and archives of the set, described now: read afresh when the deps were parsed, else
    from what was recorded (a hit: plain reads and stat calls, nothing parsed)."""
    recorded: list[list[Any]] = state.get("local", []) if state is not None else []
    if deps is None:
        if not recorded:
            return []
        from ._local import digest_of

        return [digest_of(project)[1] for project in recorded]
    from ._local import describe

    return [describe(path) for path in sorted(set(deps.local.values()))]


def _salt(inputs: Inputs) -> list[list[str]]:
    """Each salt as [where it came from, SHA-256 of its text or its file's bytes]."""
    parts = [[where, hex_digest(text.encode("utf-8", "surrogateescape"))] for where, text in inputs.salts]
    for path in inputs.salt_files:
        data = _state.read_regular(path)  # never a FIFO or a device: a hit must not hang
        if data is None:
            from ._errors import InvalidInput

            why = "no such file" if not os.path.lexists(path) else "not a readable regular file, or too big"
            msg = f"--salt-file {path}: cannot read it: {why}"
            raise InvalidInput(msg)
        parts.append([f"--salt-file {path}", hex_digest(data)])
    return parts


def _installer_stand_in(inputs: Inputs, state: dict[str, Any] | None) -> str | None:
    """The recorded installer version while its stand-in holds (same request, same prefix, same binary)."""
    if state is None:
        return None
    recorded = state["installer"]
    if recorded.get("request") != inputs.installer or recorded.get("prefix") != sys.prefix:
        return None
    try:
        st = os.stat(recorded["bin"])
    except (OSError, KeyError, TypeError):
        return None
    if recorded.get("stat") != [st.st_ino, st.st_size, st.st_mtime_ns]:
        return None
    version: str | None = recorded.get("version")
    return version


def file_digests(paths: Iterable[str]) -> dict[str, str] | None:
    """Each file's SHA-256, or None if one cannot be read, or is not a regular file of at most the deps-file cap
    (then the parser says why)."""
    files: dict[str, str] = {}
    for path in paths:
        if path.startswith("${"):  # an environment variable a deps file expanded
            files[path] = env_digest(path[2:-1])
            continue
        data = _state.read_regular(path, limit=MAX_FILE_BYTES)  # a FIFO in a deps file's place does not block a hit
        if data is None:
            return None
        files[path] = hex_digest(data)
    return files


def recorded_deps(inputs: Inputs, state: dict[str, Any] | None) -> Key | None:
    """A key built from the recorded requirements component, when the deps files are byte for byte as recorded."""
    if state is None:
        return None
    files = file_digests(state["files"])
    if files is None or inputs_digest(inputs, files) != state["inputs"]:
        return None
    requirements = state["components"].get("requirements")
    if not isinstance(requirements, str):
        return None
    return Key(state["inputs"], files, requirements, state["file_sources"])


def is_hit(state: dict[str, Any] | None, key: Key) -> bool:
    return matches(state, key.fingerprint)


def matches(state: dict[str, Any] | None, fingerprint: str | None) -> bool:
    """``state`` was recorded for ``fingerprint`` and the venv's content stamp has not changed since."""
    return (
        state is not None
        and fingerprint is not None
        and state["fingerprint"] == fingerprint
        and take(state["stamp_paths"]) == state["stamp"]
    )


def recorded_failure(directory: str, key: Key) -> dict[str, Any] | None:
    """The failure recorded for this exact key, while the venv's content is as it was then; else ``None``."""
    import json

    data = _state.read_regular(os.path.join(directory, _state.SUMMARY), limit=1 << 20, follow=False)
    if data is None:
        return None
    try:
        last = json.loads(data)
        failure = last["failure"]
        found = (
            key.fingerprint is not None
            and failure["fingerprint"] == key.fingerprint
            and isinstance(failure["stamp_paths"], list)
            and all(isinstance(path, str) for path in failure["stamp_paths"])
            and take(failure["stamp_paths"]) == failure["stamp"]
            and isinstance(last["error"], str)
            and type(last.get("when", 0.0)) in (int, float)
        )
    except (OSError, ValueError, TypeError, KeyError):  # none, unreadable or foreign: no failure to repeat
        return None
    return last if found else None
