"""SHA-256 digests for the warm path, without importing ``hashlib`` or ``json``.

``hashlib`` loads OpenSSL and ``json`` imports ``re``: together about 15 ms a CLI hit would pay on a
2-core machine. CPython's own SHA-256 module is built in and costs nothing to import. Also what the deps
files' digests are made of: where a deps file named by a path or a ``file:`` URL is, the cap on a deps file's
size (the parser refuses a bigger one) and the digest that stands for an environment variable a deps file expands.
"""

from __future__ import annotations

import os

#: the largest deps file read, in bytes; a larger one (or one that is not a regular file) is bad input
MAX_FILE_BYTES = 16 * 1024 * 1024


def deps_file_path(value: str, base: str, where: str = "") -> str:
    """Where the deps file ``value`` names (``-r``/``-c``, or given to ensure) is: a path relative to ``base``, or
    a ``file:`` URL (``file:///abs/deps.txt``, ``file:deps.txt``) as uv reads one. A remote URL is bad input
    (:class:`InvalidDeps`, ``where`` before it): a deps file is in the key by its bytes, which a hit never
    fetches."""
    if value.startswith("file:"):
        from urllib.parse import unquote, urlsplit

        path = unquote(urlsplit(value).path if value.startswith("file://") else value[len("file:") :])
        return os.path.normpath(os.path.join(base, path))
    scheme, sep, _ = value.partition("://")
    if sep and len(scheme) > 1 and scheme[0].isalpha() and all(c.isalnum() or c in "+.-" for c in scheme):
        from ._errors import InvalidDeps

        msg = (
            f"{where}cannot read deps file {value}: penvcache keys a deps file by its content and cannot key a "
            f"remote one; download it first (e.g. `curl -fsSLo deps.txt {value}`) and give that file"
        )
        raise InvalidDeps(msg)
    return os.path.join(base, os.path.expanduser(value))


TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any


def _sha256_constructor() -> Any:
    import sys

    # CPython 3.12+ calls the module _sha2, 3.11 and older _sha256 (trying a missing one searches all of sys.path)
    for name in ("_sha2", "_sha256") if sys.version_info >= (3, 12) else ("_sha256",):
        try:
            return __import__(name).sha256
        except (ImportError, AttributeError):
            pass
    from hashlib import sha256  # other interpreters

    return sha256


sha256: Any = _sha256_constructor()


def hex_digest(data: bytes) -> str:
    """SHA-256 of ``data``, in hex."""
    return str(sha256(data).hexdigest())


def digest(data: object) -> str:
    """SHA-256 of a canonical form of ``data`` (str, int, float, bool, None, and lists, tuples and dicts of them).

    Dicts are sorted by key and lists and tuples are the same, so equal data gives equal digests.
    """
    return hex_digest(repr(_canonical(data)).encode())


def _canonical(data: object) -> object:
    if type(data) is str:  # the commonest: a hit digests a requirement string per dependency
        return data
    if isinstance(data, dict):
        return tuple(sorted((str(k), _canonical(v)) for k, v in data.items()))
    if isinstance(data, (list, tuple)):
        if all(type(v) is str for v in data):  # as the loop below would make it, without a call per item
            return tuple(data)
        return tuple(_canonical(v) for v in data)
    if data is None or isinstance(data, (str, int, float, bool)):
        return data
    msg = f"cannot digest {type(data).__name__}: {data!r}"
    raise TypeError(msg)


def env_digest(name: str) -> str:
    """What stands for environment variable ``name`` among the deps files' digests (its value's, or unset). A URL's
    credentials in the value are hidden first (as the key hides them): the digest is stored, and one of a
    password alone could be brute-forced."""
    value = os.environ.get(name)
    if value is None:
        return "unset"
    if "@" in value and "://" in value:
        from ._redact import redact

        value = redact(value)
    return hex_digest(value.encode("utf-8", "surrogateescape"))
