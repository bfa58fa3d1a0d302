"""Level 3, ``penvcache verify``: every hash in the ``RECORD`` of every distribution of a set's whole closure.

The closure is read in the venv's own interpreter (``importlib.metadata``, by ``_verify_script.py``): the listed
requirements, the extras they ask for and, recursively, every required dependency whose markers apply there.
Each file is hashed and compared with its ``RECORD`` line. What installers legitimately leave unhashed or
rewrite is skipped and counted: ``RECORD`` lines without a hash (the ``RECORD`` itself; bytecode that pip
compiled), ``.pyc`` files (any interpreter may recompile them) and paths outside the venv.

``--repair`` reinstalls exactly the distributions with a mismatch, fetched and unpacked anew (``uv pip install
--reinstall-package NAME --no-cache``): uv hardlinks installed files from its cache, so a file damaged in place
in the venv is damaged in the cache too, and a plain ``--reinstall-package`` (with ``--refresh-package`` too,
for a wheel from ``--find-links``) links the damaged copy back.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ._errors import InstallFailed, InvalidInput
from ._redact import redact
from ._requirements import DepsSet, marker_applies, top_level_extra
from ._venv import Venv

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_verify_script.py")


@dataclass
class Verification:
    """What :func:`verify` found in one venv."""

    venv: str
    #: every distribution of the closure that was checked: canonical name -> version
    distributions: dict[str, str] = field(default_factory=dict)
    files: int = 0  #: files hashed
    #: each file that does not match: distribution, version, file, expected, found ("missing" for a missing file)
    mismatches: list[dict[str, str]] = field(default_factory=list)
    not_installed: list[str] = field(default_factory=list)  #: requirements of the closure with no distribution
    skipped: dict[str, int] = field(default_factory=dict)  #: files not hashed, by reason

    @property
    def clean(self) -> bool:
        return not self.mismatches and not self.not_installed

    @property
    def failed(self) -> list[str]:
        """The distributions with a mismatch, by canonical name."""
        return sorted({canonicalize_name(m["distribution"]) for m in self.mismatches})

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "clean" if self.clean else "mismatch",
            "venv": self.venv,
            "distributions": self.distributions,
            "files": self.files,
            "mismatches": self.mismatches,
            "not_installed": self.not_installed,
            "skipped": self.skipped,
        }


def _ask(python: str, mode: str, request: object = None) -> dict[str, Any]:
    """Run the helper script in the venv's interpreter and read its JSON answer."""
    try:
        proc = subprocess.run(
            [python, "-I", _SCRIPT, mode],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
        )
    except OSError as e:
        msg = f"cannot run {python}: {e.strerror or e}"
        raise InstallFailed(msg) from e
    try:
        if proc.returncode != 0:
            raise ValueError(proc.returncode)
        answer: dict[str, Any] = json.loads(proc.stdout)
    except ValueError as e:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        msg = f"reading the distributions of {python} failed: {tail[0]}"
        raise InstallFailed(msg) from e
    return answer


def closure(deps: DepsSet, environment: dict[str, str], dists: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The canonical names of the installed closure, and the requirements of it that nothing installed satisfies;
    uv's overrides (and excludes) in place of the requirements on their names, as validation reads them."""
    overrides = deps.replacements()
    pending = [r for r in deps.overridden() if marker_applies(r.marker, environment)]
    extras_seen: dict[str, set[str]] = {}
    not_installed: list[str] = []
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        dist = dists.get(name)
        if dist is None:
            text = redact(str(req))  # printed and in the JSON: a direct URL's credentials hidden
            if text not in not_installed:
                not_installed.append(text)
            continue
        extras = {canonicalize_name(e) for e in req.extras}
        first = name not in extras_seen
        new = extras - extras_seen.get(name, set())
        if not first and not new:
            continue
        extras_seen.setdefault(name, set()).update(extras)
        for text in dist["requires"]:
            try:
                dep = Requirement(text)
            except InvalidRequirement:
                continue  # a distribution's own bad metadata is not ours to judge
            replacing = overrides.get(canonicalize_name(dep.name))
            if replacing is not None:  # required, or a dependency of the extra its marker names, as in uv
                extra = top_level_extra(dep.marker)
                if (extra is None and first) or (extra is not None and extra in new):
                    pending += (o for o in replacing if marker_applies(o.marker, {**environment, "extra": extra or ""}))
                continue
            if marker_applies(dep.marker, {**environment, "extra": ""}):
                if first:
                    pending.append(dep)
            elif any(marker_applies(dep.marker, {**environment, "extra": extra}) for extra in new):
                pending.append(dep)
    return sorted(extras_seen), sorted(not_installed)


def verify(venv: Venv, deps: DepsSet) -> Verification:
    """Check every ``RECORD`` hash of the closure of ``deps`` in ``venv``; nothing is changed."""
    problem = venv.problem()
    if problem is not None:
        msg = f"cannot verify {venv.path}: {problem} (make it with `penvcache ensure` first)"
        raise InvalidInput(msg)
    info = _ask(venv.python, "metadata")
    dists: dict[str, Any] = info["dists"]
    names, not_installed = closure(deps, info["environment"], dists)
    found = Verification(venv.path, not_installed=not_installed)
    paths = {}
    for name in names:
        found.distributions[name] = dists[name]["version"]
        if dists[name]["path"] is None:
            found.skipped["not a .dist-info directory"] = found.skipped.get("not a .dist-info directory", 0) + 1
        else:
            paths[dists[name]["path"]] = name
    for checked in _ask(venv.python, "check", list(paths))["checked"]:
        name = paths[checked["path"]]
        found.files += checked["files"]
        for why, count in checked["skipped"].items():
            found.skipped[why] = found.skipped.get(why, 0) + count
        found.mismatches += [
            {"distribution": dists[name]["name"], "version": dists[name]["version"], **mismatch}
            for mismatch in checked["mismatches"]
        ]
    return found


def repair(venv: Venv, deps: DepsSet, names: list[str], *, find_links: list[str], offline: bool, verbose: bool) -> None:
    """Reinstall exactly ``names``, fetched and unpacked anew, with the set's own sources."""
    from ._installer import install

    install(
        venv,
        deps.with_find_links(find_links),  # the arguments' find-links first, then the deps files', as ensure does
        missing=names,
        reinstall=names,
        offline=offline,
        verbose=verbose,
        fresh=True,
    )
