"""Reading dependency sets: requirement strings and pip-style deps files (comments, continuations, -r/-c)."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ._digest import hex_digest
from ._errors import InvalidDeps

_COMMENT = re.compile(r"(^|\s+)#.*$")
# Options that take a value, by every spelling pip and uv accept in a requirements file.
_VALUE_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
    "-f": "find-links",
    "--find-links": "find-links",
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
}


@dataclass
class DepsSet:
    """A dependency set as read from requirement strings and deps files."""

    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    extra_index_urls: list[str] = field(default_factory=list)
    #: every file read (absolute path) with the SHA-256 of its bytes, in reading order
    files: dict[str, str] = field(default_factory=dict)

    def normalised(self) -> list[str]:
        """The set in a canonical form: order, case, spacing and comments do not matter."""
        lines = sorted({normalise(r) for r in self.requirements})
        lines += sorted({f"-c {normalise(r)}" for r in self.constraints})
        lines += [f"--find-links {link}" for link in sorted(set(self.find_links))]
        lines += [f"--index-url {url}" for url in self.index_urls[-1:]]
        lines += [f"--extra-index-url {url}" for url in sorted(set(self.extra_index_urls))]
        return lines


def normalise(req: Requirement) -> str:
    """One requirement in canonical form (canonical names, sorted extras and specifiers)."""
    text: str = canonicalize_name(req.name)
    if req.extras:
        text += "[" + ",".join(sorted(canonicalize_name(e) for e in req.extras)) + "]"
    text += f" @ {req.url}" if req.url else str(req.specifier)
    if req.marker is not None:
        text += f"; {req.marker}"
    return text


def read_deps(requirements: Iterable[str] = (), deps_files: Iterable[str | os.PathLike[str]] = ()) -> DepsSet:
    """Read requirement strings and deps files into one :class:`DepsSet`; bad input raises :class:`InvalidDeps`."""
    deps = DepsSet()
    for number, text in enumerate(requirements, start=1):
        deps.requirements.append(_parse_requirement(text, f"requirement argument {number}"))
    for path in deps_files:
        _read_file(os.path.abspath(os.fspath(path)), deps, constraint=False, stack=())
    return deps


def _parse_requirement(text: str, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as e:
        reason = str(e).splitlines()[0]  # packaging adds the text again with a caret under it
        msg = f"{where}: invalid requirement {text!r}: {reason}"
        raise InvalidDeps(msg) from e


def _read_file(path: str, deps: DepsSet, *, constraint: bool, stack: tuple[str, ...]) -> None:
    if path in stack:
        cycle = " -> ".join([*stack[stack.index(path) :], path])
        msg = f"{stack[-1]}: requirements files include each other: {cycle}"
        raise InvalidDeps(msg)
    try:
        with open(path, "rb") as f:
            data = f.read()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        where = f"{stack[-1]}: " if stack else ""
        msg = f"{where}cannot read deps file {path}: {reason}"
        raise InvalidDeps(msg) from e
    deps.files[path] = hex_digest(data)
    base = os.path.dirname(path)
    for lineno, line in _logical_lines(text):
        where = f"{path}:{lineno}"
        if not line.startswith("-"):
            req = _parse_requirement(line, where)
            (deps.constraints if constraint else deps.requirements).append(req)
            continue
        option, value = _split_option(line, where)
        if option == "requirement":
            _read_file(os.path.join(base, value), deps, constraint=constraint, stack=(*stack, path))
        elif option == "constraint":
            _read_file(os.path.join(base, value), deps, constraint=True, stack=(*stack, path))
        elif option == "find-links":
            is_url = "://" in value
            deps.find_links.append(value if is_url else os.path.normpath(os.path.join(base, value)))
        elif option == "index-url":
            deps.index_urls.append(value)
        else:
            deps.extra_index_urls.append(value)


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Yield (first line number, content) with continuations joined and comments and blanks dropped."""
    pending: list[str] = []
    start = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = lineno
        line = _COMMENT.sub("", raw)
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        joined = ("".join(pending) + line).strip()
        pending = []
        if joined:
            yield start, joined
    tail = "".join(pending).strip()
    if tail:
        yield start, tail


def _split_option(line: str, where: str) -> tuple[str, str]:
    try:
        words = shlex.split(line)
    except ValueError as e:
        msg = f"{where}: cannot parse {line!r}: {e}"
        raise InvalidDeps(msg) from e
    head, *rest = words
    if head.startswith("--") and "=" in head:  # --requirement=base.txt
        head, value = head.split("=", 1)
        rest = [value, *rest]
    elif head not in _VALUE_OPTIONS and head[:2] in _VALUE_OPTIONS:  # -rbase.txt
        head, rest = head[:2], [head[2:], *rest]
    option = _VALUE_OPTIONS.get(head)
    if option is None:
        what = "editable requirements are" if head in {"-e", "--editable"} else f"option {head} is"
        msg = f"{where}: {what} not supported by penvcache: {line!r}"
        raise InvalidDeps(msg)
    if len(rest) != 1 or not rest[0]:
        msg = f"{where}: {head} takes exactly one value: {line!r}"
        raise InvalidDeps(msg)
    return option, rest[0]
