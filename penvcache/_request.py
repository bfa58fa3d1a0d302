"""One call's request: what :func:`penvcache.ensure`, :func:`penvcache.use` or the command line asked for.

Built once at the edge (the public functions keep their explicit keyword-only signatures for users and docs;
the CLI and its warm path build it from their arguments) and passed down whole, instead of the same keywords
repeated by every function of the flow. A plain class with ``__slots__``: a hit does not pay for dataclasses.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    import os
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
