"""Build hooks: the ``penvcache`` command is a plain script on POSIX and a console script on Windows.

A console-script wrapper made by pip imports ``re`` before penvcache (about 6 ms, more than a hit costs), so the
POSIX wheel (``py3-none-any``) ships ``launcher/penvcache`` as a script whose ``#!python`` shebang pip and uv both
rewrite to the environment's interpreter. Windows runs only ``.exe`` files from PATH, and installers make a
launcher ``.exe`` only for console scripts, so the Windows wheels (``py3-none-win_amd64``...) declare the console
script ``penvcache = penvcache._fastpath:main`` instead. One wheel cannot hold both: installers drop a script
that has the name of a console script. Installers prefer the platform wheel over the pure one.

The Windows variant is built on Windows, or anywhere with ``PENVCACHE_WHEEL_PLATFORM=win_amd64`` (or another
Windows platform tag) set.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

ENTRY_POINT = "penvcache._fastpath:main"
LAUNCHER = "launcher/penvcache"


def windows_platform() -> str | None:
    """The Windows platform tag to build for (``win_amd64``...), or ``None`` for the POSIX wheel."""
    platform = os.environ.get("PENVCACHE_WHEEL_PLATFORM", "").strip()
    if not platform and sys.platform == "win32":
        platform = sysconfig.get_platform()
    platform = platform.replace("-", "_").replace(".", "_")
    return platform if platform.startswith("win") else None


class ScriptsHook(MetadataHookInterface):
    """``project.scripts``: the console script on Windows only."""

    def update(self, metadata: dict[str, Any]) -> None:
        metadata["scripts"] = {"penvcache": ENTRY_POINT} if windows_platform() else {}


class LauncherHook(BuildHookInterface[Any]):
    """The wheel: the launcher script on POSIX; the platform tag on Windows."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        platform = windows_platform()
        if platform:
            build_data["tag"] = f"py3-none-{platform}"
        else:
            build_data["shared_scripts"][LAUNCHER] = "penvcache"
