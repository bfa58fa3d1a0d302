"""Why a call would miss: the key's components now and as recorded, and what differs, in words."""

from __future__ import annotations

import os
from typing import Any

from . import _state
from ._key import COMPONENTS, Inputs, Key, build, is_hit, parse, recorded_failure
from ._requirements import ARGUMENTS, DepsSet
from ._venv import Venv

_SOURCE_OPTIONS = ("--find-links ", "--index-url ", "--extra-index-url ", "--no-index")


class Check:
    """The outcome of :func:`explain`: hit or miss, each component, and the reasons for a miss."""

    def __init__(self, venv: Venv, key: Key, state: dict[str, Any] | None, hit: bool, reasons: list[str]) -> None:
        self.venv = venv
        self.key = key
        self.state = state
        self.hit = hit
        self.reasons = reasons
        self.found_warnings: list[str] = []  # by a validation explain ran
        self.notes: list[str] = []  #: what a person should know even on a hit (VCS references that can move)
        #: the key of the set in shared stores (``explain`` only), or None with why it has none
        self.portable: tuple[str | None, str] = (None, "not computed")

    def components(self) -> dict[str, dict[str, Any]]:
        """Each component: its value now, the recorded one, whether it changed, and a readable description."""
        recorded = self.state["components"] if self.state else {}
        return {
            name: {
                "value": self.key.components.get(name),
                "recorded": recorded.get(name),
                "changed": self.state is not None and recorded.get(name) != self.key.components.get(name),
                "detail": _describe(name, self.key, self.venv),
            }
            for name in COMPONENTS
        }

    def warnings(self) -> list[str]:
        """What validation found but does not count as a failure: recorded when it last passed, or found now."""
        recorded = (self.state or {}).get("warnings") or []
        return [*recorded, *(w for w in self.found_warnings if w not in recorded)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "hit" if self.hit else "miss",
            "venv": self.venv.path,
            "fingerprint": self.key.fingerprint,
            "recorded_fingerprint": self.state["fingerprint"] if self.state else None,
            "components": self.components(),
            "reasons": self.reasons,
            "warnings": self.warnings(),
            "notes": self.notes,
            "portable_key": self.portable[0],
        }


def explain(
    inputs: Inputs, venv: Venv, directory: str, *, probe: bool, quick: bool = False, validate_timeout: float = 300.0
) -> Check:
    """The exact check (deps parsed, installer identified), read-only: no lock, nothing installed or recorded.

    With ``probe``, a venv whose content changed since it was validated is validated again to say what fails.
    With ``quick``, a hit by the warm path's own check (no parsing, no installer lookup) is taken as it is.
    """
    state = _state.read(directory)
    if quick:
        key = build(inputs, venv, state)
        if is_hit(state, key):
            return Check(venv, key, state, True, [])
    deps = parse(inputs)
    key = build(inputs, venv, state, exact=True, deps=deps)
    if is_hit(state, key):
        check = Check(venv, key, state, True, [])
    else:
        found: list[str] = []
        reasons = _reasons(
            inputs, venv, directory, state, key, deps, probe=probe, timeout=validate_timeout, found=found
        )
        failure = recorded_failure(directory, key)
        if failure is not None:
            reasons.insert(
                0,
                f"failed: {failure['error']} (recorded; nothing changed since, so ensure fails at once without "
                "installing: change the dependencies or the venv, or pass --retry)",
            )
        check = Check(venv, key, state, False, reasons)
        check.found_warnings = found
    check.notes = _moving(deps, state)
    if probe:
        check.portable = _portable(inputs, venv, key, deps)
    return check


def _portable(inputs: Inputs, venv: Venv, key: Key, deps: DepsSet) -> tuple[str | None, str]:
    """The set's key in shared stores (what another machine computes), or None and why there is none."""
    from ._store import StoreUnusable, _sources, portable, portable_key, target

    why_not = portable(deps)
    if why_not is not None:
        return None, f"never shared: {why_not}"
    if venv.problem() is not None:
        return None, "unknown until the venv exists (it includes the interpreter's platform and tags)"
    try:
        found = portable_key(key.components, _sources(deps, inputs)[0], target(venv.python))
    except StoreUnusable as e:
        return None, str(e)
    return found, "the set's key in shared stores"


def _moving(deps: DepsSet, state: dict[str, Any] | None) -> list[str]:
    """A note for each VCS reference that can move: the commit it was installed at."""
    from ._requirements import moving_vcs, normalise

    commits = state["details"].get("vcs", {}) if state else {}
    notes = []
    for req in moving_vcs(deps):
        at = commits.get(normalise(req))
        installed = f"installed at commit {at}" if at else "not installed yet"
        notes.append(
            f"{req.name}: {req.url} is a branch, a tag or no reference: it can move ({installed}); a hit does not "
            "fetch it again: pin a commit, or change --salt to take the new one"
        )
    return notes


def _reasons(  # noqa: PLR0917
    inputs: Inputs,
    venv: Venv,
    directory: str,
    state: dict[str, Any] | None,
    key: Key,
    deps: DepsSet,
    *,
    probe: bool,
    timeout: float = 300.0,
    found: list[str] | None = None,
) -> list[str]:
    reasons = []
    problem = venv.problem()
    if problem is not None:
        reasons.append(f"venv: {problem}")
    if state is None:
        if os.path.exists(os.path.join(directory, _state.STATE)):
            reasons.append("the record is unreadable or from another penvcache version")
        else:
            reasons.append("nothing recorded for this venv (first run, or forgotten)")
        return reasons
    old, new, details = state["components"], key.components, state["details"]
    for name in COMPONENTS:
        if new.get(name) is None or old.get(name) == new.get(name):
            continue
        if name == "requirements":
            reasons += _requirements(details.get("lines", {}), deps.lines)
        elif name == "sources":
            reasons.append("sources changed: " + _diff(details.get("sources", []), key.components_sources))
        elif name == "python":
            reasons.append(_python(details, key))
        elif name == "venv":
            was = details.get("pyvenv_cfg", [None, None])
            now = key.identity["pyvenv_cfg"] if key.identity else [None, None]
            # a new file (another inode), or the same text written again (a freed inode can be reused): recreated
            edited = was[0] != now[0] and was[1] == now[1]
            reasons.append("venv: pyvenv.cfg changed" if edited else "venv recreated (a new pyvenv.cfg)")
        elif name == "installer":
            reasons.append(f"installer changed: {old.get(name)} -> {new.get(name)}")
        elif name == "local":
            reasons.append("local projects changed: " + _local(state.get("local", []), key.local))
        elif name == "skip_imports" and name not in old:
            reasons.append("skipped imports: not in the record (an older penvcache made it)")
        elif name == "skip_imports":
            was = details.get("skip_imports", [])
            reasons.append("skipped imports changed: " + _diff(was, list(inputs.skip_imports)))
        else:
            reasons.append("salt changed: " + _salt(details.get("salt", []), key.salt))
    if not reasons and key.fingerprint == state["fingerprint"]:
        reasons.append("the venv's content changed since it was validated")
        if probe:
            reasons += _validation(venv, inputs, deps, timeout, [] if found is None else found)
    return reasons or ["the key changed"]


def _display(path: str) -> str:
    if path == ARGUMENTS:
        return "requirement arguments"
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _requirements(old: dict[str, list[str]], new: dict[str, list[str]]) -> list[str]:
    def own(lines: list[str]) -> list[str]:
        return [line for line in lines if not line.startswith(_SOURCE_OPTIONS)]

    reasons = []
    for source in sorted(set(old) | set(new), key=lambda s: (s != ARGUMENTS, s)):
        name = _display(source)
        if source not in new:
            reasons.append(f"requirements: {name} is no longer read")
        elif source not in old:
            reasons.append(f"requirements: {name} is read now: {', '.join(own(new[source])) or 'nothing in it'}")
        elif own(old[source]) != own(new[source]):
            reasons.append(f"requirements: {name} changed: {_diff(own(old[source]), own(new[source]))}")
    return reasons or ["requirements changed"]


def _diff(old: list[str], new: list[str]) -> str:
    removed = [line for line in old if line not in new]
    added = [line for line in new if line not in old]
    if removed and added:
        return f"{', '.join(removed)} -> {', '.join(added)}"
    if added:
        return "added " + ", ".join(added)
    if removed:
        return "removed " + ", ".join(removed)
    return "reordered"


def _python(details: dict[str, Any], key: Key) -> str:
    old_request, new_request = details.get("python_request", ""), key.python_request
    if old_request != new_request:
        return f"python changed: --python {old_request or '(default)'} -> --python {new_request or '(default)'}"
    old_base = details.get("python") or [None]
    new_base = key.identity["base_python"] if key.identity else [None]
    if old_base[0] != new_base[0]:
        return f"python changed: {old_base[0]} -> {new_base[0]}"
    return f"python changed: {new_base[0]} was replaced (upgraded or reinstalled)"


def _local(old: list[list[Any]], new: list[list[Any]]) -> str:
    was = {str(project[0]): project[3] for project in old}
    now = {str(project[0]): project[3] for project in new}
    return _changes(was, now, "changed (its pyproject.toml, setup.py, setup.cfg or cache-keys, or its bytes)")


def _salt(old: list[list[str]], new: list[list[str]]) -> str:
    was = {str(where): digest for where, digest in old}
    now = {str(where): digest for where, digest in new}
    return _changes(was, now, "changed")


def _changes(was: dict[str, Any], now: dict[str, Any], changed: str) -> str:
    """What was removed, added and changed between two {name: digest} records, in words."""
    changes = []
    for name in sorted(set(was) | set(now)):
        if name not in now:
            changes.append(f"{name} removed")
        elif name not in was:
            changes.append(f"{name} added")
        elif was[name] != now[name]:
            changes.append(f"{name} {changed}")
    return ", ".join(changes) or "reordered"


def _validation(venv: Venv, inputs: Inputs, deps: DepsSet, timeout: float, warnings: list[str]) -> list[str]:
    """Validate the venv again, read-only, and say what fails (and put what it warns of in ``warnings``)."""

    from ._errors import InstallFailed
    from ._probe import validate

    try:
        deps = deps.with_find_links(inputs.find_links)
        report = validate(venv.python, deps, skip_imports=inputs.skip_imports, timeout=timeout)
    except InstallFailed as e:
        return [f"validation: {e}"]
    warnings += report.warnings
    if report.satisfied:
        return ["validation: it still passes (ensure would adopt it without installing)"]
    return [f"validation: {name}: {', '.join(why)}" for name, why in sorted(report.failures.items())]


def _describe(name: str, key: Key, venv: Venv) -> str:  # noqa: PLR0911
    """A component in words, for people."""
    if name == "requirements":
        deps = key.deps
        if deps is None:
            return key.requirements[:12]
        sources = ", ".join(_display(s) for s in deps.lines) or "nothing"
        return f"{len(deps.requirements)} requirements, {len(deps.constraints)} constraints from {sources}"
    if name == "sources":
        return "; ".join(key.components_sources) or "uv's default index"
    if name == "python":
        if key.identity is None:
            return "unknown (the venv is missing or broken)"
        request = f" (--python {key.python_request})" if key.python_request else ""
        return f"{key.identity['base_python'][0]}{request}"
    if name == "venv":
        if key.identity is None:
            return f"{venv.path} (missing or broken)"
        return f"{venv.path} (pyvenv.cfg inode {key.identity['pyvenv_cfg'][1]})"
    if name == "installer":
        return str(key.components.get("installer"))
    if name == "local":
        return ", ".join(project[0] for project in key.local) or "none"
    if name == "skip_imports":
        return ", ".join(key.skip_imports) or "none"
    return ", ".join(where for where, _ in key.salt) or "none"
