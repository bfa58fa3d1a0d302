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
from ._redact import redact

_COMMENT = re.compile(r"(^|\s+)#.*$")
# Where the options of a requirement line (``name==1.0 --hash=sha256:...``) begin.
_LINE_OPTIONS = re.compile(r"\s(?=--?[A-Za-z])")
# The hash algorithms pip and uv accept in ``--hash``, with their hex digest lengths.
_HASH_LENGTHS = {"md5": 32, "sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-fA-F]+")
#: the source name of requirement strings given as arguments (not in a file)
ARGUMENTS = "arguments"
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
    #: ``--hash`` values by :func:`normalise`\ d requirement or constraint
    hashes: dict[str, set[str]] = field(default_factory=dict)
    #: every file read (absolute path) with the SHA-256 of its bytes, in reading order
    files: dict[str, str] = field(default_factory=dict)
    #: each source's own lines, normalised (``ARGUMENTS`` or a file's path): what ``explain`` compares
    lines: dict[str, list[str]] = field(default_factory=dict)

    def pinned(self, req: Requirement) -> str:
        """A requirement in canonical form with its ``--hash`` options, if any."""
        text = normalise(req)
        return text + "".join(f" --hash={h}" for h in sorted(self.hashes.get(text, ())))

    def requirement_lines(self) -> list[str]:
        """The requirements and constraints in canonical form: order, case, spacing and comments do not matter."""
        lines = sorted({self.pinned(r) for r in self.requirements})
        lines += sorted({f"-c {self.pinned(r)}" for r in self.constraints})
        return lines

    def source_lines(self) -> list[str]:
        """Where the deps files say packages come from (indexes and find-links), in canonical form, credentials
        hidden (``user:****@``): they are shown and stored, and a rotated token is not a new source."""
        lines = [f"--find-links {redact(link)}" for link in sorted(set(self.find_links))]
        lines += [f"--index-url {redact(url)}" for url in self.index_urls[-1:]]
        lines += [f"--extra-index-url {redact(url)}" for url in sorted(set(self.extra_index_urls))]
        return lines

    def normalised(self) -> list[str]:
        """The whole set in canonical form: requirements, constraints, then sources."""
        return self.requirement_lines() + self.source_lines()

    def install_line(self, req: Requirement) -> str:
        """A line for a requirements file passed to uv: the requirement as written, with its hashes."""
        return str(req) + "".join(f" --hash={h}" for h in sorted(self.hashes.get(normalise(req), ())))


def normalise(req: Requirement) -> str:
    """One requirement in canonical form (canonical names, sorted extras and specifiers)."""
    text: str = canonicalize_name(req.name)
    if req.extras:
        text += "[" + ",".join(sorted(canonicalize_name(e) for e in req.extras)) + "]"
    text += f" @ {redact(req.url)}" if req.url else str(req.specifier)
    if req.marker is not None:
        text += f"; {req.marker}"
    return text


def read_deps(requirements: Iterable[str] = (), deps_files: Iterable[str | os.PathLike[str]] = ()) -> DepsSet:
    """Read requirement strings and deps files into one :class:`DepsSet`; bad input raises :class:`InvalidDeps`."""
    deps = DepsSet()
    for number, text in enumerate(requirements, start=1):
        req = _parse_requirement(text, f"requirement argument {number}")
        deps.requirements.append(req)
        deps.lines.setdefault(ARGUMENTS, []).append(normalise(req))
    for path in deps_files:
        _read_file(os.path.abspath(os.fspath(path)), deps, constraint=False, stack=(), where="")
    return deps


def _parse_requirement(text: str, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as e:
        reason = str(e).splitlines()[0]  # packaging adds the text again with a caret under it
        msg = f"{where}: invalid requirement {text!r}: {reason}"
        raise InvalidDeps(msg) from e


def _read_file(path: str, deps: DepsSet, *, constraint: bool, stack: tuple[str, ...], where: str) -> None:
    """Read one deps file into ``deps``; ``where`` is the including line (``file:N: ``), if any."""
    if path in stack:
        cycle = " -> ".join([*stack[stack.index(path) :], path])
        msg = f"{where}requirements files include each other: {cycle}"
        raise InvalidDeps(msg)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        msg = f"{where}cannot read deps file {path}: {reason}"
        raise InvalidDeps(msg) from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        lineno = len((data[: e.start].decode("utf-8-sig") + "x").splitlines())
        msg = f"{path}:{lineno}: not UTF-8 text: {e.reason} at byte {e.start}"
        raise InvalidDeps(msg) from e
    deps.files[path] = hex_digest(data)
    own = deps.lines.setdefault(path, [])
    base = os.path.dirname(path)
    for lineno, line in _logical_lines(text):
        here = f"{path}:{lineno}: "
        if not line.startswith("-"):
            req, hashes = _parse_requirement_line(line, here)
            (deps.constraints if constraint else deps.requirements).append(req)
            if hashes:
                deps.hashes.setdefault(normalise(req), set()).update(hashes)
            own.append(normalise(req) + "".join(f" --hash={h}" for h in sorted(hashes)))
            continue
        option, value = _split_option(line, here)
        if option == "requirement":
            own.append(f"-r {value}")
            _read_file(os.path.join(base, value), deps, constraint=constraint, stack=(*stack, path), where=here)
        elif option == "constraint":
            own.append(f"-c {value}")
            _read_file(os.path.join(base, value), deps, constraint=True, stack=(*stack, path), where=here)
        elif option == "find-links":
            is_url = "://" in value
            link = value if is_url else os.path.normpath(os.path.join(base, value))
            deps.find_links.append(link)
            own.append(f"--find-links {redact(link)}")
        elif option == "index-url":
            deps.index_urls.append(value)
            own.append(f"--index-url {redact(value)}")
        else:
            deps.extra_index_urls.append(value)
            own.append(f"--extra-index-url {redact(value)}")


def _parse_requirement_line(line: str, here: str) -> tuple[Requirement, list[str]]:
    """A requirement line of a deps file: the requirement and its ``--hash`` values (lower case)."""
    parts = _LINE_OPTIONS.split(line, maxsplit=1)
    req = _parse_requirement(parts[0].strip(), here.rstrip(": "))
    hashes: list[str] = []
    if len(parts) == 1:
        return req, hashes
    try:
        words = shlex.split(parts[1])
    except ValueError as e:
        msg = f"{here}cannot parse {line!r}: {e}"
        raise InvalidDeps(msg) from e
    while words:
        word = words.pop(0)
        if word == "--hash" and words:
            value = words.pop(0)
        elif word.startswith("--hash="):
            value = word[len("--hash=") :]
        else:
            msg = f"{here}option {word} is not supported on a requirement line by penvcache: {line!r}"
            raise InvalidDeps(msg)
        algorithm, _, digest = value.partition(":")
        if _HASH_LENGTHS.get(algorithm) != len(digest) or not _HEX.fullmatch(digest):
            msg = f"{here}--hash {value!r} is not ALGORITHM:HEXDIGEST (md5, sha256, sha384 or sha512): {line!r}"
            raise InvalidDeps(msg)
        hashes.append(f"{algorithm}:{digest.lower()}")
    return req, hashes


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


def _split_option(line: str, here: str) -> tuple[str, str]:
    try:
        words = shlex.split(line)
    except ValueError as e:
        msg = f"{here}cannot parse {line!r}: {e}"
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
        msg = f"{here}{what} not supported by penvcache: {line!r}"
        raise InvalidDeps(msg)
    if len(rest) != 1 or not rest[0]:
        msg = f"{here}{head} takes exactly one value: {line!r}"
        raise InvalidDeps(msg)
    return option, rest[0]
