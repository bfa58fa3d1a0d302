"""One call's request: what :func:`penvcache.ensure`, :func:`penvcache.use` or the command line asked for.

Built once at the edge (the public functions keep their explicit keyword-only signatures for users and docs;
the CLI and its warm path build it from their arguments) and passed down whole, instead of the same keywords
repeated by every function of the flow. A plain class with ``__slots__``: a hit does not pay for dataclasses.
:func:`prepare` turns it into the venv, the key's inputs (with the environment's say) and the venv's cache entry.
"""

from __future__ import annotations

import os

from . import _key, _state
from ._digest import deps_file_path
from ._venv import Venv

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


class Request:
    """The arguments of :func:`penvcache.ensure`, as given (lists are not copied: see :meth:`copy`), and the CLI's
    ``verbose``, ``progress`` and ``python_downloads``."""

    __slots__ = (
        "cache_dir",
        "deps_files",
        "find_links",
        "lock_timeout",
        "offline",
        "options",
        "progress",
        "python",
        "python_downloads",
        "require_hit",
        "requirements",
        "retry",
        "salt",
        "salt_files",
        "skip_imports",
        "store",
        "store_write",
        "validate_timeout",
        "venv",
        "verbose",
    )

    def __init__(
        self,
        venv: str | os.PathLike[str],
        requirements: Iterable[str] = (),
        *,
        deps_files: Iterable[str | os.PathLike[str]] = (),
        python: str | None = None,
        offline: bool = False,
        find_links: Iterable[str | os.PathLike[str]] = (),
        lock_timeout: float = 300.0,
        cache_dir: str | os.PathLike[str] | None = None,
        salt: Iterable[str] = (),
        salt_files: Iterable[str | os.PathLike[str]] = (),
        options: Iterable[str] = (),
        require_hit: bool = False,
        retry: bool = False,
        store: Iterable[str] = (),
        store_write: bool = True,
        skip_imports: Iterable[str] = (),
        validate_timeout: float = 300.0,
        verbose: bool = False,
        progress: bool = False,
        python_downloads: bool = True,
    ) -> None:
        self.venv = venv
        self.requirements = requirements
        self.deps_files = deps_files
        self.python = python
        self.offline = offline
        self.find_links = find_links
        self.lock_timeout = lock_timeout
        self.cache_dir = cache_dir
        self.salt = salt  #: ``--salt`` texts (``PENVCACHE_SALT`` is read when the inputs are made)
        self.salt_files = salt_files
        self.options = options  #: uv option lines, one per string (``--index-url URL``, ``-e ./pkg``...)
        self.require_hit = require_hit
        self.retry = retry
        self.store = store
        self.store_write = store_write
        self.skip_imports = skip_imports
        self.validate_timeout = validate_timeout
        self.verbose = verbose  #: uv's output on stderr
        self.progress = progress  #: a miss says what it is doing on stderr (see :mod:`._progress`)
        self.python_downloads = python_downloads  #: ``False``: never download a Python

    def copy(self, **changes: Any) -> Request:
        """The same request with ``changes`` (keyword arguments of the constructor)."""
        new = Request.__new__(Request)
        for name in Request.__slots__:
            setattr(new, name, changes.pop(name) if name in changes else getattr(self, name))
        if changes:
            msg = f"Request has no {', '.join(sorted(changes))}"
            raise TypeError(msg)
        return new


def check_arguments(  # noqa: PLR0917 (the list arguments of ensure, in order)
    requirements: object, deps_files: object, find_links: object, salt: object, salt_files: object, options: object
) -> None:
    """:class:`InvalidArgumentType` for one string (or path) where a list of them is expected: iterated, ``"six"``
    would be the requirements ``s``, ``i`` and ``x``, and ``deps_files="deps.txt"`` would read a file ``d``."""
    named = (
        ("requirements", requirements),
        ("deps_files", deps_files),
        ("find_links", find_links),
        ("salt", salt),
        ("salt_files", salt_files),
        ("options", options),
    )
    for name, value in named:
        if isinstance(value, (str, bytes, os.PathLike)):
            msg = f"{name} takes a list, not one {type(value).__name__}: write {name}=[{value!r}], not {name}={value!r}"
            from ._errors import InvalidArgumentType

            raise InvalidArgumentType(msg)


def check_timeouts(request: Request) -> None:
    """:class:`InvalidInput` for a lock timeout that is not a number of seconds >= 0, or a validate timeout that is
    not one > 0 and finite (nan included)."""
    for what, seconds in (("lock timeout", request.lock_timeout), ("validate timeout", request.validate_timeout)):
        if not seconds >= 0 or (what == "validate timeout" and not 0 < seconds < float("inf")):  # also catches nan
            from ._errors import InvalidInput

            msg = f"{what} must be a number of seconds {'>= 0' if what == 'lock timeout' else '> 0'}, not {seconds!r}"
            raise InvalidInput(msg)


def prepare(request: Request) -> tuple[Venv, _key.Inputs, str, str]:
    """The venv, what it must hold, the cache dir and the venv's entry in it."""
    r = request
    check_arguments(r.requirements, r.deps_files, r.find_links, r.salt, r.salt_files, r.options)
    target = Venv(r.venv)
    target.check_path()
    return (target, make_inputs(r), *cache_entry(r.cache_dir, target))


def cache_entry(cache_dir: str | os.PathLike[str] | None, venv: Venv) -> tuple[str, str]:
    """The cache dir and the venv's entry (directory) in it."""
    cache = os.fspath(cache_dir) if cache_dir else _state.default_cache_dir()
    directory = _state.venv_dir(cache, venv.path)
    _state.check_owned(directory)  # a few lstat calls: refuse an entry another user could have written
    return cache, directory


def make_inputs(request: Request) -> _key.Inputs:
    """The inputs of one call, with the environment's say (``PENVCACHE_OFFLINE``, ``PENVCACHE_SALT``...)."""
    salts = tuple(("--salt", text) for text in request.salt)
    env_salt = os.environ.get("PENVCACHE_SALT")
    if env_salt:
        salts += (("PENVCACHE_SALT", env_salt),)
    return _key.Inputs(
        requirements=tuple(request.requirements),
        deps_files=tuple(os.path.abspath(deps_file_path(os.fspath(f), os.getcwd())) for f in request.deps_files),
        python=request.python,
        find_links=tuple(_link(os.fspath(f)) for f in request.find_links),
        offline=request.offline or _flag("PENVCACHE_OFFLINE") or _flag("UV_OFFLINE"),
        salts=salts,
        salt_files=tuple(os.path.abspath(os.fspath(f)) for f in request.salt_files),
        installer=os.environ.get("PENVCACHE_UV", ""),
        stores=tuple(request.store),
        store_write=request.store_write,
        options=_options(request.options),
        uv_env=_key.uv_environment(),
        skip_imports=_skip_imports(request.skip_imports),
    )


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _link(link: str) -> str:
    return link if "://" in link else os.path.abspath(link)


def _skip_imports(names: Iterable[str]) -> tuple[str, ...]:
    """``--skip-import`` names and ``PENVCACHE_SKIP_IMPORT``'s (comma-separated), checked, sorted, no duplicates."""
    given = [(name, "--skip-import") for name in names]
    given += [(name, "PENVCACHE_SKIP_IMPORT") for name in os.environ.get("PENVCACHE_SKIP_IMPORT", "").split(",")]
    found = set()
    for name, where in given:
        text = name.strip()
        if not text and where != "--skip-import":
            continue
        if not text or not all(part.replace("-", "_").isidentifier() for part in text.split(".")):
            from ._errors import InvalidInput

            msg = f"{where} {name!r}: not a module name (like yaml or google.cloud.storage) or a distribution name"
            raise InvalidInput(msg)
        found.add(text)
    return tuple(sorted(found))


def _options(options: Iterable[str]) -> tuple[str, ...]:
    """Option lines, sorted (their order does not matter); a lone string is refused, not split into letters."""
    if isinstance(options, (str, bytes, os.PathLike)):
        from ._errors import InvalidInput

        msg = f"options must be a list of option lines, not one string: {options!r}"
        raise InvalidInput(msg)
    return tuple(sorted(set(options)))
