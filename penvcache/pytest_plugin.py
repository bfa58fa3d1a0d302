"""pytest plugin: a session-scoped ``penv`` fixture that ensures a venv holds the test dependencies.

Registered through the ``pytest11`` entry point, so every pytest session in an environment with penvcache
installed loads it. It is inert until a test requests ``penv``: it only adds options, and imports nothing
of penvcache beyond the (light) package itself until then.

Paths from the command line are relative to the directory pytest was invoked from; paths from the ini file
are relative to the ini file's directory (pytest's own rule for ``paths`` ini options; the invocation
directory when there is no ini file, as with ``-o``). The command line wins: a command-line value (or list
of values) replaces the ini value as a whole.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from ._hit import EnsureResult


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("penvcache", "penvcache: the penv fixture ensures a venv holds these dependencies")
    group.addoption(
        "--penv-deps",
        action="append",
        metavar="FILE",
        help="a pip-style deps file for the penv fixture; repeatable (ini: penv_deps)",
    )
    group.addoption(
        "--penv-venv",
        metavar="PATH",
        help="the venv the penv fixture ensures (ini: penv_venv; default: $PENVCACHE_VENV, else <rootdir>/.venv)",
    )
    group.addoption(
        "--penv-offline",
        action="store_true",
        default=None,
        help="never touch the network when installing (ini: penv_offline)",
    )
    group.addoption(
        "--penv-find-links",
        action="append",
        metavar="DIR",
        help="a directory (or URL) of wheels to install from; repeatable (ini: penv_find_links)",
    )
    group.addoption(
        "--penv-lock-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for another process's lock on the venv (ini: penv_lock_timeout; default 300)",
    )
    group.addoption(
        "--penv-skip-import",
        action="append",
        metavar="NAME",
        help="a module or distribution whose import validation skips, as penvcache's --skip-import; repeatable "
        "(ini: penv_skip_import)",
    )
    parser.addini("penv_deps", "deps files for the penv fixture (relative to the ini file)", type="args")
    parser.addini("penv_venv", "the venv the penv fixture ensures (relative to the ini file)", type="string")
    parser.addini("penv_offline", "never touch the network when installing", type="bool", default=False)
    parser.addini("penv_find_links", "directories (or URLs) of wheels (relative to the ini file)", type="args")
    parser.addini("penv_lock_timeout", "seconds to wait for another process's lock on the venv", type="string")
    parser.addini("penv_skip_import", "modules or distributions whose imports validation skips", type="args")


def _ini_base(config: pytest.Config) -> Path:
    return config.inipath.parent if config.inipath is not None else config.invocation_params.dir


def _resolve(base: Path, value: str | os.PathLike[str]) -> str:
    text = os.fspath(value)
    if "://" in text:  # a URL (find-links)
        return text
    return os.fspath(base / os.path.expanduser(text))


def _paths(config: pytest.Config, name: str) -> list[str]:
    """A repeatable path option: the command line's values, else the ini file's."""
    cli: list[str] | None = config.getoption(name)
    if cli:
        return [_resolve(config.invocation_params.dir, value) for value in cli]
    return [_resolve(_ini_base(config), value) for value in config.getini(name)]


def _settings(config: pytest.Config) -> tuple[str, list[str], dict[str, Any]]:
    """``(venv, deps_files, other ensure keyword arguments)`` from the command line, else the ini file."""
    here, ini = config.invocation_params.dir, _ini_base(config)

    deps = _paths(config, "penv_deps")
    if not deps:
        pytest.fail(
            "the penv fixture needs dependencies: pass --penv-deps FILE or set penv_deps in the ini file",
            pytrace=False,
        )

    cli_venv: str | None = config.getoption("penv_venv")
    ini_venv: str = config.getini("penv_venv")
    if cli_venv:
        venv = _resolve(here, cli_venv)
    elif ini_venv:
        venv = _resolve(ini, ini_venv)
    elif os.environ.get("PENVCACHE_VENV"):
        venv = _resolve(here, os.environ["PENVCACHE_VENV"])
    else:
        venv = os.fspath(config.rootpath / ".venv")

    cli_offline: bool | None = config.getoption("penv_offline")
    options: dict[str, Any] = {
        "offline": cli_offline if cli_offline is not None else bool(config.getini("penv_offline")),
        "find_links": _paths(config, "penv_find_links"),
    }
    timeout: float | None = config.getoption("penv_lock_timeout")
    ini_timeout: str = config.getini("penv_lock_timeout")
    if timeout is None and ini_timeout:
        try:
            timeout = float(ini_timeout)
        except ValueError:
            msg = f"penv_lock_timeout in the ini file is not a number: {ini_timeout!r}"
            raise pytest.fail.Exception(msg, pytrace=False) from None
    if timeout is not None:  # else penvcache's own default
        options["lock_timeout"] = timeout
    skip: list[str] = config.getoption("penv_skip_import") or config.getini("penv_skip_import")
    if skip:
        options["skip_imports"] = skip
    return venv, deps, options


@contextlib.contextmanager
def _one_line_failures() -> Iterator[None]:
    """A penvcache error fails the fixture with its one-line message, not a traceback."""
    from penvcache import PenvcacheError

    try:
        yield
    except PenvcacheError as e:
        # pytest.fail(), but "from None": no "During handling of the above exception" in the report; the fix a
        # message names is this plugin's option, not the command line's
        msg = "penvcache: " + str(e).replace("--skip-import ", "--penv-skip-import ")
        raise pytest.fail.Exception(msg, pytrace=False) from None


@pytest.fixture(scope="session")
def penv(pytestconfig: pytest.Config) -> Iterator[EnsureResult]:
    """The venv holding the ``--penv-deps`` dependencies, as ensured once per process (per xdist worker).

    The first worker to get the venv's lock installs; the others wait for it and then get a hit. Until the
    session ends the venv cannot be changed by another process (see :func:`penvcache.use`).
    """
    venv, deps, options = _settings(pytestconfig)
    import penvcache

    # Ensure, then hold the venv's shared lock for the session: no ensure elsewhere changes it under the tests.
    with _one_line_failures(), penvcache.use(venv, deps_files=deps, **options) as result:
        yield result
