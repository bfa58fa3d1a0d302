"""Which venv a command means when ``--venv`` is not given, found the way uv finds one (a few stat calls).

The order (the README's "Which venv" section): ``$PENVCACHE_VENV``; the active venv, ``$VIRTUAL_ENV``, when it
names a venv (it holds ``pyvenv.cfg``); ``.venv`` in the current directory when it exists; the nearest parent
directory's ``.venv`` that is a venv; else ``./.venv``, which a miss creates.
"""

from __future__ import annotations

import os

NAME = ".venv"


def default_venv() -> str:
    """The venv a command means when ``--venv`` is not given."""
    explicit = os.environ.get("PENVCACHE_VENV")
    if explicit:
        return explicit
    active = os.environ.get("VIRTUAL_ENV")
    if active and os.path.isfile(os.path.join(active, "pyvenv.cfg")):
        return active
    try:
        cwd = os.getcwd()
    except OSError:  # the current directory was removed: nothing to search
        return NAME
    here = os.path.join(cwd, NAME)
    if os.path.isdir(here):  # this directory's, whatever its state (a miss repairs it)
        return here
    here, parent = cwd, os.path.dirname(cwd)
    while parent != here:  # a parent's only when it is a venv: a stray empty .venv up the tree is not one
        candidate = os.path.join(parent, NAME)
        if os.path.isfile(os.path.join(candidate, "pyvenv.cfg")):
            return candidate
        here, parent = parent, os.path.dirname(parent)
    return os.path.join(cwd, NAME)
