"""Reading dependency sets as uv reads them: requirement strings, requirements files (every line form and option
``uv pip install -r`` takes), ``pyproject.toml`` (dependencies, extras, PEP 735 groups) and ``pylock.toml``.

Everything ends in a :class:`DepsSet`: named requirements (direct references as ``name @ URL``), the options
that change what uv installs, and every file and environment variable read, so that the key can tell when
any of them changes. Bad input raises :class:`InvalidDeps` naming the file, the line and what to write instead.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ._digest import MAX_FILE_BYTES, deps_file_path, env_digest, hex_digest
from ._errors import InvalidDeps
from ._redact import redact

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from packaging.markers import Marker

_COMMENT = re.compile(r"(^|\s+)#.*$")
# Where the options of a requirement line (``name==1.0 --hash=sha256:...``) begin.
_LINE_OPTIONS = re.compile(r"\s(?=--?[A-Za-z])")
# The hash algorithms pip and uv accept in ``--hash``, with their hex digest lengths.
_HASH_LENGTHS = {"md5": 32, "sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-fA-F]+")
# What ends a line of a deps file, as uv and pip read one
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# A word as shlex splits text without quotes or backslashes: its whitespace is these four characters only.
_WORD = re.compile(r"[^ \t\r\n]+")
# pip's rule: only ${NAME} with upper-case letters, digits and underscores; left as it is when unset.
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
# A path that os.path.expanduser reads from the home directory: ``~/x``, ``~user/x``, ``~`` alone, as a word, an
# option's value (``--find-links=~/w``, pip's attached ``-r~/x``) or a ``file:~/x`` URL's path (not ``~=``, a
# specifier)
_HOME_PATH = re.compile(r"(?:^|[\s=:]|(?:^|\s)-[A-Za-z])~[\w.-]*(?:/|\s|$)")
# pip's reading of a deps file's encoding: byte order marks (UTF-32 before UTF-16: one is a prefix of the other),
# else a PEP 263 comment.
_BOMS = (
    ("BOM_UTF8", "utf-8"),
    ("BOM_UTF32_BE", "utf-32-be"),
    ("BOM_UTF32_LE", "utf-32-le"),
    ("BOM_UTF16_BE", "utf-16-be"),
    ("BOM_UTF16_LE", "utf-16-le"),
)
_PEP263 = re.compile(rb"coding[:=]\s*([-\w.]+)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".tar")
#: the source name of requirement strings and options given as arguments (not in a file)
ARGUMENTS = "arguments"
#: how deep ``-r``/``-c`` may nest
MAX_DEPTH = 64
#: uv's ``--prerelease`` strategies
PRERELEASE = ("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit")

# Every option a requirements file (or the arguments) may give, by each spelling pip and uv accept:
# canonical name -> takes a value. ``_ARGUMENT_ONLY`` ones are uv command-line options, not file lines.
_SPELLINGS = {
    "-r": "--requirement",
    "--requirement": "--requirement",
    "-c": "--constraint",
    "--constraint": "--constraint",
    "-e": "--editable",
    "--editable": "--editable",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--default-index": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "--index": "--extra-index-url",
    "--no-index": "--no-index",
    "--pre": "--pre",
    "--prerelease": "--prerelease",
    "--prefer-binary": "--prefer-binary",
    "--only-binary": "--only-binary",
    "--no-binary": "--no-binary",
    "--trusted-host": "--allow-insecure-host",
    "--allow-insecure-host": "--allow-insecure-host",
    "--config-settings": "--config-setting",
    "--config-setting": "--config-setting",
    "-C": "--config-setting",
    "--require-hashes": "--require-hashes",
    "--no-require-hashes": "--no-require-hashes",
    "--all-releases": "--all-releases",
    "--only-final": "--only-final",
    "--extra": "--extra",
    "--all-extras": "--all-extras",
    "--group": "--group",
    "--project": "--project",
    "--no-editable": "--no-editable",
    "--exact": "--exact",
    "--use-feature": "--use-feature",
}
_FLAGS = {
    "--no-index",
    "--pre",
    "--prefer-binary",
    "--require-hashes",
    "--no-require-hashes",
    "--all-extras",
    "--no-editable",
    "--exact",
}
_ARGUMENT_ONLY = {"--extra", "--all-extras", "--group", "--prerelease", "--project", "--no-editable", "--exact"}
# The uv options that uv takes once (twice is an error), and the rank of where a value was given: the command line
# over a file, and on the command line ``--pre`` over ``--prerelease`` as uv takes them (a file's later line over
# its earlier ones, a later file over an earlier one, as each is read in order).
_SINGLE = {"--prerelease"}
_RANKS = {"file": 0, "argument": 1, "--pre argument": 2}
# Options people write that uv does not take, and what to write instead.
_INSTEAD = {
    "--global-option": "--config-settings KEY=VALUE",
    "--install-option": "--config-settings KEY=VALUE",
    "--build-option": "--config-settings KEY=VALUE",
    "--use-pep517": "nothing: uv always builds with PEP 517",
    "--no-deps": "a constraints file (-c) or a pinned set",
    "--no-build": "--only-binary :all:",
    "--upgrade": "nothing: a miss installs what the set needs; pin a version (NAME==X) to move it",
    "-U": "nothing: a miss installs what the set needs; pin a version (NAME==X) to move it",
    "--index-strategy": "nothing here: name the index that must win with --index-url",
}
# pip options uv does not take (in a requirements file or at all), and why or what to do instead.
_INTO_VENV = "penvcache installs into the venv given by --venv: remove it"
_PIP_ONLY = {
    "--user": _INTO_VENV,
    "--target": _INTO_VENV,
    "-t": _INTO_VENV,
    "--prefix": _INTO_VENV,
    "--root": _INTO_VENV,
    "--src": "uv checks a VCS requirement out in its cache: remove it",
    "--no-cache-dir": "set UV_NO_CACHE=1 in the environment, which uv reads",
    "--no-cache": "set UV_NO_CACHE=1 in the environment, which uv reads",
    "--proxy": "set HTTPS_PROXY in the environment, which uv reads",
    "--retries": "set UV_HTTP_RETRIES in the environment, which uv reads",
    "--timeout": "set UV_HTTP_TIMEOUT in the environment, which uv reads",
}
# How alike an unknown option and a known one must be to be taken for a typo of it (difflib's ratio): --no-indx for
# --no-index (0.95), --extra-index for --extra-index-url (0.87); not --no-cache for --no-index (0.6).
_TYPO_RATIO = 0.85
# A `name @ file:///...` line whose file is gone: pip freeze wrote where a package was built (conda's /croot/...).
_FREEZE_HINT = (
    "; pip freeze writes where a package was built: `pip list --format=freeze` writes NAME==VERSION lines instead"
)
# uv installs from git only; what to write for the other VCS pip knows.
_OTHER_VCS = {"hg+": "Mercurial", "svn+": "Subversion", "bzr+": "Bazaar"}


@dataclass
class DepsSet:
    """A dependency set as read from requirement strings, options and deps files."""

    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    extra_index_urls: list[str] = field(default_factory=list)
    #: of the above, those given as penvcache's own arguments (``--find-links``, option arguments): they act as
    #: uv's own options do, over uv's variables; a deps file's act as in a file given to ``uv pip install -r``
    argument_find_links: list[str] = field(default_factory=list)
    argument_index_urls: list[str] = field(default_factory=list)
    argument_extra_index_urls: list[str] = field(default_factory=list)
    #: ``--hash`` values by :func:`normalise`\ d requirement or constraint
    hashes: dict[str, set[str]] = field(default_factory=dict)
    #: every file read (absolute path) with the SHA-256 of its bytes, in reading order; ``${NAME}`` entries are
    #: environment variables a file expanded, with the digest of their value (``_digest.env_digest``)
    files: dict[str, str] = field(default_factory=dict)
    #: each source's own lines, normalised (``ARGUMENTS`` or a file's path): what ``explain`` compares
    lines: dict[str, list[str]] = field(default_factory=dict)
    #: :func:`normalise`\ d requirements installed editable, with the local directory
    editables: dict[str, str] = field(default_factory=dict)
    #: :func:`normalise`\ d requirements for a local project directory or archive (``name @ file:``, a bare path,
    #: ``-e``, ``--project``, a pylock.toml ``directory``/``archive`` entry), with its absolute path: the key's
    #: ``local`` component (:mod:`penvcache._local`, uv's cache keys) stands for what is there
    local: dict[str, str] = field(default_factory=dict)
    #: uv options that change what is installed, as (option, value or ""), in canonical order of first use
    options: list[tuple[str, str]] = field(default_factory=list)
    no_index: bool = False
    #: pip's ``--no-require-hashes``: hashes are checked where given, not required for every package
    no_require_hashes: bool = False
    #: ``pylock.toml`` files, handed to uv as they are (``-r``)
    locks: list[str] = field(default_factory=list)
    #: :func:`normalise`\ d requirements read from a lock: validated, but installed from the lock itself
    from_lock: set[str] = field(default_factory=set)
    #: pyproject.toml selection from the arguments: extra names, whether all, group names
    extras: list[str] = field(default_factory=list)
    all_extras: bool = False
    groups: list[str] = field(default_factory=list)
    #: ``--project`` directories (absolute), and whether they are installed editable
    projects: list[str] = field(default_factory=list)
    editable_projects: bool = True
    #: what uv would warn about (ignored options), said once per install
    warnings: list[str] = field(default_factory=list)
    #: what the files uv's ``UV_CONSTRAINT``, ``UV_OVERRIDE`` and ``UV_EXCLUDE`` name say (:meth:`with_uv_files`,
    #: on a miss only: a hit checks :attr:`files`, theirs among them). uv reads the variables itself; validation
    #: checks the venv as uv installs under them. In :meth:`requirement_lines`.
    uv_constraints: list[Requirement] = field(default_factory=list)
    overrides: list[Requirement] = field(default_factory=list)
    excludes: set[str] = field(default_factory=set)  #: canonical names
    #: the rank (:data:`_RANKS`) of the value kept for each option of :data:`_SINGLE`
    _ranks: dict[str, int] = field(default_factory=dict, repr=False)

    def pinned(self, req: Requirement) -> str:
        """A requirement in canonical form with its ``--hash`` options, if any."""
        text = normalise(req)
        line = text + "".join(f" --hash={h}" for h in sorted(self.hashes.get(text, ())))
        return f"-e {line}" if text in self.editables else line

    def requirement_lines(self) -> list[str]:
        """The requirements, constraints and install options in canonical form: order, case and comments do not
        matter."""
        lines = sorted({self.pinned(r) for r in self.requirements})
        lines += sorted({f"-c {self.pinned(r)}" for r in self.constraints})
        lines += sorted({f"-r {lock}" for lock in self.locks})
        lines += sorted({f"{option} {redact(value)}".strip() for option, value in self.options})
        lines += ["--no-require-hashes"] if self.no_require_hashes else []
        # what uv's UV_CONSTRAINT, UV_OVERRIDE and UV_EXCLUDE files say, once read (:meth:`with_uv_files`)
        lines += sorted({f"UV_CONSTRAINT {self.pinned(r)}" for r in self.uv_constraints})
        lines += sorted({f"UV_OVERRIDE {self.pinned(r)}" for r in self.overrides})
        lines += sorted(f"UV_EXCLUDE {name}" for name in self.excludes)
        return lines

    def source_lines(self) -> list[str]:
        """Where the deps files say packages come from (indexes and find-links), in canonical form, credentials
        hidden (``user:****@``): they are shown and stored, and a rotated token is not a new source."""
        lines = [f"--find-links {redact(link)}" for link in sorted(set(self.find_links))]
        # the index uv uses: an argument's (uv's UV_DEFAULT_INDEX, over a file's --index-url), else the files' last
        lines += [f"--index-url {redact(url)}" for url in (self.argument_index_urls or self.index_urls)[-1:]]
        lines += [f"--extra-index-url {redact(url)}" for url in sorted(set(self.extra_index_urls))]
        lines += ["--no-index"] if self.no_index else []
        return lines

    def normalised(self) -> list[str]:
        """The whole set in canonical form: requirements, constraints, options, then sources."""
        return self.requirement_lines() + self.source_lines()

    def with_find_links(self, links: Iterable[str]) -> DepsSet:
        """The set with penvcache's ``--find-links`` arguments ``links``: searched first, as uv's ``--find-links``."""
        links = list(dict.fromkeys(links))
        return replace(
            self,
            find_links=[*links, *(link for link in self.find_links if link not in links)],
            argument_find_links=links,
        )

    def replacements(self) -> dict[str, list[Requirement]]:
        """uv's overrides by canonical name: each name's list replaces every requirement on that name, the set's
        and any distribution's, marker included ("overrides replace the requirement"); an excluded name's is []."""
        found: dict[str, list[Requirement]] = {}
        for o in self.overrides:
            found.setdefault(canonicalize_name(o.name), []).append(o)
        found.update({name: [] for name in self.excludes})
        return found

    def overridden(self) -> list[Requirement]:
        """The requirements as uv resolves them: its overrides (:meth:`replacements`) in place of those on their
        names, their markers in place of the requirement's."""
        replacements = self.replacements()
        return [o for r in self.requirements for o in replacements.get(canonicalize_name(r.name), [r])]

    def with_uv_files(self) -> DepsSet:
        """The set with what the files named by uv's ``UV_CONSTRAINT``, ``UV_OVERRIDE`` and ``UV_EXCLUDE`` say
        (:func:`read_uv_files`); a pylock.toml takes none of them, as in uv."""
        found, files = read_uv_files()
        if not found:
            return self
        if self.locks:
            name = min(found)
            msg = (
                f"{self.locks[0]}: a pylock.toml is installed on its own, as uv does, and uv takes no "
                f"{UV_REQUIREMENT_FILES[name]} with it; unset {name}"
            )
            raise InvalidDeps(msg)
        return replace(
            self,
            files={**self.files, **files},  # in the key as a deps file's: a nested file or a variable is a miss
            uv_constraints=found.get("UV_CONSTRAINT", []),
            overrides=found.get("UV_OVERRIDE", []),
            excludes={canonicalize_name(r.name) for r in found.get("UV_EXCLUDE", [])},
        )

    def file_source_lines(self) -> list[str]:
        """The deps files' sources as lines of the requirements file uv is given (credentials included: never on a
        command line). uv adds them to its own settings as ``uv pip install -r`` does: ``UV_FIND_LINKS`` and
        ``UV_EXTRA_INDEX_URL`` are searched too (before them), and ``UV_DEFAULT_INDEX``/``UV_INDEX_URL`` win over
        a file's ``--index-url``. What an argument gives too is left to the argument."""
        index, extras, links = self.file_sources()
        lines = [f"--index-url {url}" for url in index]
        lines += [f"--extra-index-url {url}" for url in extras]
        lines += [f"--find-links {listed_link(link)}" for link in links]
        return lines

    def file_sources(self) -> tuple[list[str], list[str], list[str]]:
        """The sources only the deps files give: (their index, the last one, as in pip; extra indexes;
        find-links), each once, without what an argument gives too."""
        indexes = [url for url in self.index_urls if url not in self.argument_index_urls]
        extras = dict.fromkeys(url for url in self.extra_index_urls if url not in self.argument_extra_index_urls)
        links = dict.fromkeys(link for link in self.find_links if link not in self.argument_find_links)
        return indexes[-1:], list(extras), list(links)

    def install_line(self, req: Requirement) -> str:
        """A line for a requirements file passed to uv: the requirement as written, with its hashes."""
        text = normalise(req)
        if text in self.editables:
            return f"-e {self.editables[text]}"
        return str(req) + "".join(f" --hash={h}" for h in sorted(self.hashes.get(text, ())))

    def install_options(self) -> list[str]:
        """The options that reach uv's command line (``--pre`` and others that uv ignores in a file)."""
        argv: list[str] = []
        for option, value in self.options:
            argv += [option, value] if value else [option]
        return argv

    def implies_require_hashes(self) -> bool:
        """pip's rule: one ``--hash`` requires a hash for every package (unless ``--no-require-hashes``). Not when
        a requirement cannot have one (a local directory, an editable, a VCS URL): pip refuses such a file and uv
        installs it, checking hashes where given, which is how ``uv export`` output (``-e .`` beside hashed pins)
        is meant to be read."""
        if not self.hashes or self.no_require_hashes or ("--require-hashes", "") in self.options:
            return False
        for req in self.requirements:
            url = req.url or ""
            if url.startswith(_VCS) or normalise(req) in self.editables:
                return False
            if url.startswith("file:") and os.path.isdir(_url_path(url)):
                return False
        return True

    @property
    def exact(self) -> bool:
        """uv's ``--exact``: whatever the set does not need is removed."""
        return ("--exact", "") in self.options

    def add_option(self, option: str, value: str = "", *, rank: int = 0) -> None:
        """Add a uv option; one uv takes once (``--prerelease``) keeps one value: the one of the highest ``rank``
        (:data:`_RANKS`), the later one of equal rank, in the place of its first use."""
        if option not in _SINGLE:
            if (option, value) not in self.options:
                self.options.append((option, value))
            return
        for i, (given, _) in enumerate(self.options):
            if given == option:
                if rank >= self._ranks.get(option, 0):
                    self.options[i] = (option, value)
                    self._ranks[option] = rank
                return
        self.options.append((option, value))
        self._ranks[option] = rank


def listed_link(link: str, separator: str = "") -> str:
    """A find-links location as it can stand in a requirements file line (a space or ``#`` ends a value there) or,
    with ``separator``, in a list (``UV_FIND_LINKS`` is comma-separated): a path holding such a character as a
    ``file:`` URL, a URL with the separator escaped."""
    if "://" in link:
        return link.replace(",", "%2C") if separator else link
    if any(c in link for c in f" \t#{separator}"):
        if link.startswith("file:"):  # a file: URL relative to the current directory: no absolute path to give
            from urllib.parse import quote

            return "file:" + quote(link[5:], safe="/:@~")
        from pathlib import Path

        return Path(link).as_uri()
    return link


def normalise(req: Requirement) -> str:
    """One requirement in canonical form (canonical names, sorted extras and specifiers)."""
    text: str = canonicalize_name(req.name)
    if req.extras:
        text += "[" + ",".join(sorted(canonicalize_name(e) for e in req.extras)) + "]"
    text += f" @ {redact(req.url)}" if req.url else str(req.specifier)
    if req.marker is not None:
        text += f"; {req.marker}"
    return text


# The marker variables uv compares as versions: a value that is no version specifier with the operator is dropped.
_VERSION_MARKERS = ("python_version", "python_full_version", "implementation_version")


def marker_applies(marker: Marker | None, environment: Mapping[str, str]) -> bool:
    """Whether a requirement's marker holds in ``environment``, as uv evaluates it.

    packaging raises on a comparison it cannot make (``python_version ~= "3"``: ``~=`` needs two release
    segments; ``os_name ~= "x"``). uv drops such a comparison from its ``and``/``or`` (and a marker made only of
    them holds): ``os_name == "nt" or python_version ~= "3"`` is ``os_name == "nt"``. So does this, never raising.
    """
    if marker is None:
        return True
    try:
        return marker.evaluate(dict(environment))
    except ValueError:  # UndefinedComparison, UndefinedEnvironmentName, InvalidVersion
        pass
    markers = getattr(marker, "_markers", None)  # packaging's parsed form: atoms, "and"/"or", nested lists
    return _uv_markers(markers, environment) is not False if isinstance(markers, list) else True


def top_level_extra(marker: Marker | None) -> str | None:
    """The extra named by an ``extra == "name"`` of a marker's main conjunction, as uv finds it when an override
    replaces a dependency (the override is then a dependency of that extra); None for a required dependency."""
    return _conjunction_extra(getattr(marker, "_markers", None))  # packaging's parsed form


def _conjunction_extra(items: object) -> str | None:
    """:func:`top_level_extra` of packaging's parsed marker: atoms, "and"/"or", nested lists (parentheses)."""
    if not isinstance(items, list) or "or" in items:
        return None
    for item in items:
        if isinstance(item, list) and (found := _conjunction_extra(item)) is not None:
            return found
        if isinstance(item, tuple) and len(item) == 3:
            lhs, op, rhs = item
            sides = {type(lhs).__name__: lhs.value, type(rhs).__name__: rhs.value}
            if op.value == "==" and sides.get("Variable") == "extra" and "Value" in sides:
                return canonicalize_name(sides["Value"])
    return None


def _uv_markers(markers: list[Any], environment: Mapping[str, str]) -> bool | None:
    """packaging's marker list evaluated with uv's rule: None when every comparison in it was dropped."""
    groups: list[list[bool]] = [[]]
    for item in markers:
        if item == "or":
            groups.append([])
            continue
        if item == "and":
            continue
        value = _uv_markers(item, environment) if isinstance(item, list) else _uv_atom(item, environment)
        if value is not None:
            groups[-1].append(value)
    kept = [group for group in groups if group]
    return any(all(group) for group in kept) if kept else None


def _uv_atom(atom: Any, environment: Mapping[str, str]) -> bool | None:
    """One comparison (packaging's ``(Variable or Value, Op, Value or Variable)``), or None when uv drops it: one
    that is undefined for its values, or a version variable compared with what is not a version specifier."""
    from packaging.markers import Marker
    from packaging.specifiers import InvalidSpecifier, Specifier

    try:
        lhs, op, rhs = atom
        variable, value = (lhs, rhs) if lhs.value in _VERSION_MARKERS else (rhs, lhs)
        if variable.value in _VERSION_MARKERS and op.value not in {"in", "not in"}:
            Specifier(f"{op.value}{value.value}")
        return Marker(f"{lhs.serialize()} {op.serialize()} {rhs.serialize()}").evaluate(dict(environment))
    except (ValueError, TypeError, AttributeError, InvalidSpecifier):
        return None


def read_deps(
    requirements: Iterable[str] = (),
    deps_files: Iterable[str | os.PathLike[str]] = (),
    options: Iterable[str] = (),
) -> DepsSet:
    """Read requirement strings, option lines (as in a requirements file, plus uv's ``--extra``, ``--group``...,
    relative to the current directory) and deps files into one :class:`DepsSet`; bad input raises
    :class:`InvalidDeps`."""
    deps = DepsSet()
    base = os.getcwd()
    reader = _Reader(deps)
    for number, text in enumerate(options, start=1):
        reader.line(text, base, ARGUMENTS, f"option argument {number}: ", constraint=False, depth=0)
    for project in deps.projects:
        reader.project(project)
    for number, text in enumerate(requirements, start=1):
        req = reader.requirement(text, base, f"requirement argument {number}")
        deps.requirements.append(req)
        deps.lines.setdefault(ARGUMENTS, []).append(deps.pinned(req))
    for path in deps_files:
        reader.file(os.path.abspath(deps_file_path(os.fspath(path), base)), constraint=False, stack=(), where="")
    others = [r for r in deps.requirements if normalise(r) not in deps.from_lock]
    if deps.locks and (others or len(deps.locks) > 1):
        what = f"another pylock.toml ({deps.locks[1]})" if len(deps.locks) > 1 else f"other requirements ({others[0]})"
        msg = f"{deps.locks[0]}: a pylock.toml is installed on its own, as uv does; it cannot be combined with {what}"
        raise InvalidDeps(msg)
    return deps


#: uv's variables that name requirements files changing what ``uv pip install`` resolves, and what the files hold
UV_REQUIREMENT_FILES = {"UV_CONSTRAINT": "constraints", "UV_OVERRIDE": "overrides", "UV_EXCLUDE": "excludes"}


def read_uv_files() -> tuple[dict[str, list[Requirement]], dict[str, str]]:
    """The requirements of the files each of :data:`UV_REQUIREMENT_FILES` names (space-separated paths, relative
    to the current directory), by variable, for those that are set, and what they read (as
    :attr:`DepsSet.files`: each file's digest, nested ones too, and the variables they expand). Read as uv reads
    them: every requirement of a constraints file is a constraint (as a deps file's ``-c``: nested ``-r`` too),
    an overrides or excludes file gives its requirements (its ``-c`` lines are ignored); a nested ``-r``/``-c`` is
    relative to its file, a requirement's path to the current directory (uv reads these files itself: not to the
    file, as a deps file's paths are). A file that cannot be read, or is not a requirements file, is
    :class:`InvalidDeps` naming the variable and the file."""
    found: dict[str, list[Requirement]] = {}
    files: dict[str, str] = {}
    for name, kind in UV_REQUIREMENT_FILES.items():
        values = os.environ.get(name, "").split()
        if not values:
            continue
        deps = DepsSet()
        reader = _Reader(deps, paths_base=os.getcwd())
        where = f"{name}: "
        for value in values:
            if "://" in value:
                deps_file_path(value, "", where)  # a remote file: refused, saying why
            path = os.path.abspath(value)
            base = os.path.basename(path)
            if base in {"pyproject.toml", "setup.py", "setup.cfg"} or (
                base.startswith("pylock.") and base.endswith(".toml")
            ):
                msg = f"{where}{path}: uv reads {kind} files as requirements files, and a {base} is not one"
                raise InvalidDeps(msg)
            reader.file(path, constraint=name == "UV_CONSTRAINT", stack=(), where=where, what=f"{kind} file")
        found[name] = deps.constraints if name == "UV_CONSTRAINT" else deps.requirements
        files.update(deps.files)
    return found, files


def moving_vcs(deps: DepsSet) -> list[Requirement]:
    """The VCS requirements whose reference is not a full commit id (a branch, a tag, none): they can move."""
    moving = []
    for req in deps.requirements:
        if req.url and req.url.startswith(_VCS):
            ref = (
                urlsplit(req.url.split("+", 1)[1]).path.rpartition("@")[2] if "@" in req.url.split("://", 1)[-1] else ""
            )
            if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", ref):
                moving.append(req)
    return moving


def resolved_commits(deps: DepsSet, paths: Iterable[str]) -> dict[str, str]:
    """What each moving VCS requirement resolved to when installed: the commit in uv's ``direct_url.json``."""
    import json

    dist_infos = {}
    for path in paths:
        base = os.path.basename(path)
        if base.endswith(".dist-info"):
            dist_infos[canonicalize_name(base[: -len(".dist-info")].rsplit("-", 1)[0])] = path
    commits = {}
    for req in moving_vcs(deps):
        where = dist_infos.get(canonicalize_name(req.name))
        try:
            with open(os.path.join(where or "", "direct_url.json"), encoding="utf-8") as f:
                commit = json.load(f)["vcs_info"]["commit_id"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(commit, str):
            commits[normalise(req)] = commit
    return commits


def read_bounded(path: str, what: str = "deps file") -> bytes:
    """A regular file's bytes, at most :data:`MAX_FILE_BYTES`; anything else is :class:`InvalidDeps`, unread."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        msg = f"cannot read {what} {path}: {reason}"
        raise InvalidDeps(msg) from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # before fdopen, which refuses a directory with IsADirectoryError
            msg = f"cannot read {what} {path}: not a regular file"
            raise InvalidDeps(msg)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        if st.st_size > MAX_FILE_BYTES:
            msg = f"cannot read {what} {path}: {st.st_size} bytes, more than the {MAX_FILE_BYTES} bytes allowed"
            raise InvalidDeps(msg)
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # it grew while we read it
        msg = f"cannot read {what} {path}: more than the {MAX_FILE_BYTES} bytes allowed"
        raise InvalidDeps(msg)
    return data


def _decode(path: str, data: bytes) -> str:
    """A deps file's text, pip's way: a byte order mark, else a PEP 263 ``coding:`` comment in the first two
    lines, else UTF-8. Undecodable bytes are bad input naming the line."""
    import codecs

    encoding, start = "utf-8", 0
    for bom, name in _BOMS:
        if data.startswith(getattr(codecs, bom)):
            encoding, start = name, len(getattr(codecs, bom))
            break
    else:
        for head in data.split(b"\n", 2)[:2]:
            match = _PEP263.search(head) if head.lstrip().startswith(b"#") else None
            if match:
                encoding = match.group(1).decode("ascii")
                try:
                    codecs.lookup(encoding)
                except LookupError as e:
                    msg = f"{path}: unknown encoding {encoding!r} in its coding comment (save it as UTF-8)"
                    raise InvalidDeps(msg) from e
                break
    try:
        return data[start:].decode(encoding)
    except UnicodeDecodeError as e:
        lineno = data[: start + e.start].count(b"\n") + 1
        label = "UTF-8" if encoding == "utf-8" else encoding
        msg = f"{path}:{lineno}: not {label} text: {e.reason} at byte {start + e.start} (save it as UTF-8)"
        raise InvalidDeps(msg) from e


def _expand(text: str, deps: DepsSet) -> str:
    """``${NAME}`` replaced by the environment variable's value, pip's way; each name read is in the key, except
    where it is a URL's password (or token): the key has the URL redacted, so a rotated credential is not a miss,
    and a digest of it in the state could be brute-forced."""
    hidden = _credentials_only(text) if "@" in text and "://" in text else set()

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in hidden:
            deps.files[f"${{{name}}}"] = env_digest(name)
        return os.environ.get(name, match.group(0))

    return _ENV_VAR.sub(value, text)


def _credentials_only(text: str) -> set[str]:
    """The ``${NAME}`` names in ``text`` that occur only where :func:`redact` hides a URL's credentials."""
    names: list[str] = []

    def marker(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return f"\x01{len(names) - 1}\x01"  # no character that ends a URL's authority

    shown = redact(_ENV_VAR.sub(marker, text))
    kept = {name for i, name in enumerate(names) if f"\x01{i}\x01" in shown}
    return set(names) - kept


def _parse_requirement(text: str, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as e:
        reason = str(e).splitlines()[0]  # packaging adds the text again with a caret under it
        msg = f"{where}: invalid requirement {text!r}: {reason}"
        raise InvalidDeps(msg) from e


class _Reader:
    def __init__(self, deps: DepsSet, *, paths_base: str | None = None) -> None:
        self.deps = deps
        #: where a requirement's or an option's relative path starts; None: the file's directory (a deps file's)
        self.paths_base = paths_base

    # -- files ---------------------------------------------------------------------------------------------------
    def file(self, path: str, *, constraint: bool, stack: tuple[str, ...], where: str, what: str = "deps file") -> None:
        """Read one deps file into the set; ``where`` is the including line (``file:N: ``), if any."""
        deps = self.deps
        if path in stack:
            cycle = " -> ".join([*stack[stack.index(path) :], path])
            msg = f"{where}requirements files include each other: {cycle}"
            raise InvalidDeps(msg)
        if len(stack) >= MAX_DEPTH:
            msg = f"{where}requirements files nest more than {MAX_DEPTH} deep (at {path})"
            raise InvalidDeps(msg)
        try:
            data = read_bounded(path, what)
        except InvalidDeps as e:
            msg = f"{where}{e}"
            raise InvalidDeps(msg) from e
        text = _decode(path, data)
        deps.files[path] = hex_digest(data)
        deps.lines.setdefault(path, [])
        name = os.path.basename(path)
        if name == "pyproject.toml":
            self.pyproject(path, text, constraint=constraint)
            return
        if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
            self.pylock(path, text)
            return
        if name in {"setup.py", "setup.cfg"}:  # uv builds the project to read them: not a requirements file
            project = os.path.dirname(path)
            msg = (
                f"{where}{path}: penvcache does not read a project's {name} as a deps file (uv builds the project "
                f"for its dependencies); install the project instead: -e {project} (or a line -e ./DIR in a deps file)"
            )
            raise InvalidDeps(msg)
        base = self.paths_base or os.path.dirname(path)
        for lineno, line in _logical_lines(text):
            self.line(line, base, path, f"{path}:{lineno}: ", constraint=constraint, depth=len(stack) + 1, stack=stack)

    def line(
        self,
        line: str,
        base: str,
        source: str,
        here: str,
        *,
        constraint: bool,
        depth: int,
        stack: tuple[str, ...] = (),
    ) -> None:
        deps = self.deps
        own = deps.lines.setdefault(source, [])
        if source != ARGUMENTS:  # pip and uv expand ${NAME} in files only
            line = _expand(line, deps)
        if "~" in line and _HOME_PATH.search(line):  # a path from ~: another HOME is another path, as ${HOME} is
            deps.files["${HOME}"] = env_digest("HOME")
        editable = _editable_value(line, here) if source != ARGUMENTS else None
        if editable is not None:  # -e takes the rest of the line, as pip does: `-e NAME @ URL` too
            req = self.editable(editable, base, here)
            (deps.constraints if constraint else deps.requirements).append(req)
            own.append(deps.pinned(req))
            return
        if not line.startswith("-"):
            req, hashes = self.requirement_line(line, base, here)
            (deps.constraints if constraint else deps.requirements).append(req)
            if hashes:
                deps.hashes.setdefault(normalise(req), set()).update(hashes)
            own.append(deps.pinned(req))
            return
        for option, value in _split_options(line, here) if source != ARGUMENTS else _argument_option(line, here):
            if option in {"--requirement", "--constraint"}:
                own.append(f"{'-r' if option == '--requirement' else '-c'} {value}")
                path = deps_file_path(value, base if source == ARGUMENTS else os.path.dirname(source), here)
                nested = (*stack, source) if source != ARGUMENTS else ()
                self.file(path, constraint=constraint or option == "--constraint", stack=nested, where=here)
            elif option == "--editable":
                req = self.editable(value, base, here)
                (deps.constraints if constraint else deps.requirements).append(req)
                own.append(deps.pinned(req))
            elif option == "--find-links":
                link = value if _SCHEME.match(value) and len(value.split(":")[0]) > 1 else _abspath(base, value)
                deps.find_links.append(link)
                own.append(f"--find-links {redact(link)}")
            elif option == "--index-url":
                deps.index_urls.append(value)
                if source == ARGUMENTS:
                    deps.argument_index_urls.append(value)
                own.append(f"--index-url {redact(value)}")
            elif option == "--extra-index-url":
                deps.extra_index_urls.append(value)
                if source == ARGUMENTS:
                    deps.argument_extra_index_urls.append(value)
                own.append(f"--extra-index-url {redact(value)}")
            elif option == "--no-index":
                deps.no_index = True
                own.append("--no-index")
            elif option == "--use-feature":  # pip's; uv ignores it in a file, with a warning
                deps.warnings.append(f"{here}ignoring --use-feature {value}, as uv does (a pip option)")
            elif option == "--prefer-binary":
                deps.warnings.append(f"{here}ignoring --prefer-binary, as uv does (uv prefers wheels anyway)")
                own.append("--prefer-binary")
            elif option == "--no-require-hashes":  # pip's: one --hash no longer requires a hash for all
                deps.no_require_hashes = True
                own.append("--no-require-hashes")
            elif option in {"--all-releases", "--only-final"}:
                uv_option, uv_value = _releases_option(option, value, here)
                deps.add_option(uv_option, uv_value, rank=_RANKS["file"])
                own.append(f"{uv_option} {uv_value}")
            elif option == "--extra":
                deps.extras.append(canonicalize_name(value))
                own.append(f"--extra {canonicalize_name(value)}")
            elif option == "--all-extras":
                deps.all_extras = True
                own.append("--all-extras")
            elif option == "--project":
                deps.projects.append(_abspath(base, value))
                own.append(f"--project {_abspath(base, value)}")
            elif option == "--no-editable":
                deps.editable_projects = False
                own.append("--no-editable")
            elif option == "--group":
                deps.groups.append(canonicalize_name(value))
                own.append(f"--group {canonicalize_name(value)}")
            else:
                uv_option, uv_value = _uv_option(option, value, here)
                rank = "file" if source != ARGUMENTS else "--pre argument" if option == "--pre" else "argument"
                deps.add_option(uv_option, uv_value, rank=_RANKS[rank])
                own.append(f"{uv_option} {redact(uv_value)}".strip())

    # -- requirements --------------------------------------------------------------------------------------------
    def requirement_line(self, line: str, base: str, here: str) -> tuple[Requirement, list[str]]:
        """A requirement line of a deps file: the requirement and its ``--hash`` values (lower case)."""
        parts = _LINE_OPTIONS.split(line, maxsplit=1)
        req = self.requirement(parts[0].strip(), base, here.rstrip(": "))
        hashes: list[str] = []
        if len(parts) == 1:
            return req, hashes
        try:
            words = _words(parts[1])
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
                msg = (
                    f"{here}option {word} is not supported on a requirement line by penvcache: {line!r} "
                    f"(write it on a line of its own, as uv takes it)"
                )
                raise InvalidDeps(msg)
            algorithm, _, digest = value.partition(":")
            if _HASH_LENGTHS.get(algorithm) != len(digest) or not _HEX.fullmatch(digest):
                msg = f"{here}--hash {value!r} is not ALGORITHM:HEXDIGEST (md5, sha256, sha384 or sha512): {line!r}"
                raise InvalidDeps(msg)
            hashes.append(f"{algorithm}:{digest.lower()}")
        return req, hashes

    def requirement(self, text: str, base: str, where: str) -> Requirement:
        """A requirement: a PEP 508 one, or a local path, archive or URL as pip and uv take them (``./pkg``,
        ``x.whl``, ``file:///x``, ``https://h/x.tar.gz#egg=x``, ``git+https://h/x#egg=x``), named."""
        location, extras, marker = _split_direct(text)
        if location is not None:
            return self.direct(location, extras, marker, base, where, text)
        req = _parse_requirement(text, where)
        if req.url:
            _refuse_other_vcs(req.url, where, text)
            url = req.url
            head, fragment = _split_fragment(url)
            if not _SCHEME.match(url) or len(url.split(":")[0]) == 1:  # name @ ./pkg, as uv allows
                url = _file_url(_abspath(base, head)) + fragment
            elif url.startswith("file:") and not url.startswith("file://"):
                url = _file_url(_abspath(base, unquote(head[len("file:") :]))) + fragment
            hint = _cwd_hint(req.url, base) if url != req.url else _FREEZE_HINT
            if url != req.url:
                req.url = url
            self._local(req, where, hint)
        return req

    def direct(  # noqa: PLR0917
        self, location: str, extras: str, marker: str, base: str, where: str, text: str
    ) -> Requirement:
        """A requirement for a path or URL written without a name."""
        try:
            url, name = _locate(location, base)
        except ValueError as e:  # urllib's word on a malformed URL (a bad IPv6 host...)
            msg = f"{where}: invalid URL {location!r}: {e}"
            raise InvalidDeps(msg) from e
        _refuse_other_vcs(url, where, text)
        if name is None:
            name = _project_name(url)
        if name is None:
            msg = (
                f"{where}: cannot tell the package name of {text!r}; write it as `NAME @ {url}` "
                f"(or add #egg=NAME to the URL){_cwd_hint(location, base)}"
            )
            raise InvalidDeps(msg)
        req = _parse_requirement(f"{name}{extras} @ {url}{' ; ' + marker if marker else ''}", where)
        self._local(req, where, _cwd_hint(location, base))
        return req

    def editable(self, value: str, base: str, here: str) -> Requirement:
        """``-e PATH`` (a local directory, installed editable) or ``-e VCS_URL#egg=NAME`` (from pip freeze: uv
        cannot install a VCS source editable, so it is installed from the URL, with a warning)."""
        location, extras, marker = _split_direct(value)
        if location is None and "@" in value:  # -e NAME @ URL, as pip's documentation writes it
            named = self.named_editable(value, base, here)
            if named is not None:
                return named
        if location is None and "@" not in value:  # -e app: a directory, as pip and uv take it (never a name)
            relative = _split_direct(f"./{value}")
            if relative[0] is not None and os.path.isdir(_path_of(_split_fragment(relative[0])[0], base)):
                location, extras, marker = relative
        directory = _path_of(_split_fragment(location)[0], base) if location is not None else ""
        if location is None or location.startswith(_VCS) or not os.path.isdir(directory):
            if location is not None and location.startswith(_VCS):
                req = self.direct(location, extras, marker, base, here.rstrip(": "), value)
                self.deps.warnings.append(
                    f"{here}-e {value}: uv cannot install a VCS source editable; installing it from the URL"
                )
                return req
            msg = (
                f"{here}-e {value}: an editable requirement must be a local project directory "
                "(e.g. `-e ./pkg`); for a package from an index write it without -e"
                f"{_cwd_hint(location if location is not None else f'./{value}', base)}"
            )
            raise InvalidDeps(msg)
        req = self.direct(location, extras, marker, base, here.rstrip(": "), value)
        text = normalise(req)
        self.deps.editables[text] = directory + extras
        return req

    def named_editable(self, value: str, base: str, here: str) -> Requirement | None:
        """``-e NAME @ URL``: a local directory is installed editable; a VCS URL from it, with a warning."""
        try:
            named = Requirement(value)
        except InvalidRequirement:
            return None
        if not named.url:
            return None
        req = self.requirement(value, base, here.rstrip(": "))
        url = req.url or ""
        if url.startswith(_VCS):
            self.deps.warnings.append(
                f"{here}-e {value}: uv cannot install a VCS source editable; installing it from the URL"
            )
            return req
        path = _url_path(url)
        if not url.startswith("file:") or not os.path.isdir(path):
            msg = f"{here}-e {value}: an editable requirement must be a local project directory (e.g. `-e ./pkg`)"
            raise InvalidDeps(msg)
        extras = "[" + ",".join(sorted(req.extras)) + "]" if req.extras else ""
        self.deps.editables[normalise(req)] = path + extras
        return req

    def _local(self, req: Requirement, where: str, hint: str = "") -> None:
        """A local project or archive: recorded in :attr:`DepsSet.local`, the key's ``local`` component."""
        if not req.url or not req.url.startswith("file:"):
            return
        path = _url_path(req.url)
        if not os.path.exists(path):
            msg = f"{where}: {req}: no such file or directory: {path}{hint}"
            raise InvalidDeps(msg)
        self.local_path(req, path, where)

    def local_path(self, req: Requirement, path: str, where: str) -> None:
        """Record a local project directory or archive; anything else (a FIFO, a device) is refused unread."""
        if not os.path.isdir(path) and not os.path.isfile(path):
            msg = f"{where}: {req.name}: not a project directory or an archive file: {path}"
            raise InvalidDeps(msg)
        self.deps.local[normalise(req)] = path

    def project(self, path: str) -> None:
        """``--project DIR``: its pyproject.toml's dependencies (with the selected extras and groups), and the
        project itself, editable unless ``--no-editable``."""
        where = f"--project {path}"
        pyproject = os.path.join(path, "pyproject.toml")
        if not os.path.isfile(pyproject):
            msg = f"{where}: no pyproject.toml in {path}"
            raise InvalidDeps(msg)
        self.file(pyproject, constraint=False, stack=(), where=f"{where}: ")
        if self.deps.editable_projects:
            req = self.editable(path, path, f"{where}: ")
        else:
            req = self.direct(path, "", "", path, where, path)
        self.deps.requirements.append(req)
        self.deps.lines.setdefault(ARGUMENTS, []).append(self.deps.pinned(req))

    # -- projects and locks --------------------------------------------------------------------------------------
    def pyproject(self, path: str, text: str, *, constraint: bool) -> None:
        """``[project] dependencies``, the selected extras (``optional-dependencies``) and PEP 735 groups."""
        data = _toml(path, text)
        deps = self.deps
        project = data.get("project")
        groups = data.get("dependency-groups", {})
        if not isinstance(project, dict):
            msg = f"{path}: no [project] table: penvcache reads [project] dependencies"
            raise InvalidDeps(msg)
        if "dependencies" in project.get("dynamic", []):
            msg = (
                f"{path}: its dependencies are dynamic; install the project itself instead (-e {os.path.dirname(path)})"
            )
            raise InvalidDeps(msg)
        texts = [(t, "dependencies") for t in _strings(project.get("dependencies", []), path, "dependencies")]
        optional = project.get("optional-dependencies", {})
        if not isinstance(optional, dict):
            msg = f"{path}: [project.optional-dependencies] is not a table"
            raise InvalidDeps(msg)
        by_name: dict[str, str] = {canonicalize_name(k): k for k in optional}
        wanted = list(by_name) if deps.all_extras else deps.extras
        for extra in wanted:
            if extra not in by_name:
                msg = f"{path}: no extra {extra!r} in [project.optional-dependencies] (it has: {', '.join(by_name)})"
                raise InvalidDeps(msg)
            where = f"optional-dependencies.{by_name[extra]}"
            texts += [(t, where) for t in _strings(optional[by_name[extra]], path, where)]
        tool = data.get("tool")
        uv = tool.get("uv") if isinstance(tool, dict) else None
        uv = uv if isinstance(uv, dict) else {}
        legacy = uv.get("dev-dependencies")
        if legacy is not None and isinstance(groups, dict):  # uv's older spelling of the `dev` group: uv merges it
            dev = next((k for k in groups if canonicalize_name(k) == "dev"), "dev")
            groups = {**groups, dev: [*groups.get(dev, []), *_strings(legacy, path, "tool.uv.dev-dependencies")]}
        for group in deps.groups:
            texts += _group(groups, group, path, ())
        sources = uv.get("sources")
        sourced = {canonicalize_name(k): v for k, v in sources.items()} if isinstance(sources, dict) else {}
        own = deps.lines[path]
        base = os.path.dirname(path)
        for line, where in texts:
            req = self.requirement(line, base, f"{path}: {where}")
            source = sourced.get(canonicalize_name(req.name))
            if source is not None and not req.url:
                msg = (
                    f"{path}: {where}: {req.name} has a [tool.uv.sources] entry ({source!r}) "
                    "that penvcache does not apply; write the source in a requirements file instead "
                    f"(`{req.name} @ URL`, `-e ./DIR`): `uv export --format requirements-txt` writes one"
                )
                raise InvalidDeps(msg)
            (deps.constraints if constraint else deps.requirements).append(req)
            own.append(deps.pinned(req))

    def pylock(self, path: str, text: str) -> None:
        """A PEP 751 lock: handed to uv as it is; each package for this environment is validated at its version."""
        data = _toml(path, text)
        packages = data.get("packages")
        if not isinstance(packages, list) or "lock-version" not in data:
            msg = f"{path}: not a pylock.toml (PEP 751) file: no lock-version or [[packages]]"
            raise InvalidDeps(msg)
        own = self.deps.lines[path]
        for number, package in enumerate(packages, start=1):
            if not isinstance(package, dict) or not isinstance(package.get("name"), str):
                msg = f"{path}: packages[{number}] has no name"
                raise InvalidDeps(msg)
            text = package["name"]
            if isinstance(package.get("version"), str):
                text += f"=={package['version']}"
            if isinstance(package.get("marker"), str):
                text += f" ; {package['marker']}"
            req = _parse_requirement(text, f"{path}: packages[{number}]")
            for kind in ("directory", "archive"):  # a local project or archive: in the key's `local` component
                source = package.get(kind)
                if isinstance(source, dict) and isinstance(source.get("path"), str):
                    local = _abspath(os.path.dirname(path), source["path"])
                    if not os.path.exists(local):
                        msg = f"{path}: packages[{number}] ({req.name}): no such file or directory: {local}"
                        raise InvalidDeps(msg)
                    self.local_path(req, local, f"{path}: packages[{number}]")
            self.deps.requirements.append(req)
            self.deps.from_lock.add(normalise(req))
            own.append(self.deps.pinned(req))
        self.deps.locks.append(path)


def _toml(path: str, text: str) -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        data: dict[str, object] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as e:
        msg = f"{path}: not valid TOML: {e}"
        raise InvalidDeps(msg) from e


def _strings(value: object, path: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"{path}: {where} is not a list of requirement strings"
        raise InvalidDeps(msg)
    return list(value)


def _group(groups: object, name: str, path: str, seen: tuple[str, ...]) -> list[tuple[str, str]]:
    """A PEP 735 dependency group's requirements, its ``include-group``\\ s expanded."""
    if not isinstance(groups, dict):
        msg = f"{path}: [dependency-groups] is not a table"
        raise InvalidDeps(msg)
    by_name: dict[str, str] = {canonicalize_name(k): k for k in groups}
    if name not in by_name:
        msg = f"{path}: no dependency group {name!r} in [dependency-groups] (it has: {', '.join(by_name) or 'none'})"
        raise InvalidDeps(msg)
    if name in seen:
        msg = f"{path}: dependency groups include each other: {' -> '.join([*seen, name])}"
        raise InvalidDeps(msg)
    entries = groups[by_name[name]]
    if not isinstance(entries, list):
        msg = f"{path}: dependency-groups.{by_name[name]} is not a list"
        raise InvalidDeps(msg)
    texts: list[tuple[str, str]] = []
    for entry in entries:
        if isinstance(entry, str):
            texts.append((entry, f"dependency-groups.{by_name[name]}"))
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            texts += _group(groups, canonicalize_name(entry["include-group"]), path, (*seen, name))
        else:
            msg = f"{path}: dependency-groups.{by_name[name]}: {entry!r} is neither a requirement nor include-group"
            raise InvalidDeps(msg)
    return texts


# -- paths and URLs ----------------------------------------------------------------------------------------------
def _split_direct(text: str) -> tuple[str | None, str, str]:
    """``(location, "[extras]", marker)`` when ``text`` is a path or URL without a name, else ``(None, "", "")``."""
    location, _, marker = text.partition(";") if " ;" in text or "; " in text else (text, "", "")
    location, marker = location.strip(), marker.strip()
    extras = ""
    match = re.fullmatch(r"(.*?)(\[[^\]]*\])", location)
    if match and not _SCHEME.match(location):
        location, extras = match.group(1), match.group(2)
    if " @ " in location or ("@" in location.split("/")[0] and not location.startswith(_VCS)):
        return None, "", ""
    scheme = _SCHEME.match(location)
    is_url = scheme is not None and len(scheme.group(0)) > 2  # not C:\ on Windows
    is_path = (
        location.startswith((".", "/", "~"))
        or os.sep in location
        or "/" in location
        or location.lower().endswith(_ARCHIVES)
    )
    if not (is_url or is_path):
        return None, "", ""
    return location, extras, marker


def _abspath(base: str, path: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def _file_url(path: str) -> str:
    from urllib.request import pathname2url  # here: urllib.request imports http.client, email and ssl (~8 ms)

    return "file://" + pathname2url(path)


def _url_path(url: str) -> str:
    parts = urlsplit(url)
    return unquote(parts.path)


def _path_of(location: str, base: str) -> str:
    if location.startswith("file:"):
        return _url_path(location) if location.startswith("file://") else _abspath(base, unquote(location[5:]))
    return _abspath(base, location)


def _split_fragment(location: str) -> tuple[str, str]:
    """A path or URL and its ``#KEY=VALUE`` fragment (``#egg=NAME``, ``#subdirectory=DIR``, ``#sha256=HEX``), with
    its ``#``, or ``""``: a path's fragment is uv's too, never part of the file name."""
    head, sign, fragment = location.partition("#")
    return (head, sign + fragment) if "=" in fragment else (location, "")


def _locate(location: str, base: str) -> tuple[str, str | None]:
    """The URL for a path or URL, and the name its ``#egg=`` fragment or file name gives, if any."""
    if location.startswith("file:") or not (_SCHEME.match(location) and len(location.split(":", maxsplit=1)[0]) > 1):
        head, fragment = _split_fragment(location)
        url = _file_url(_path_of(head, base)) + fragment
    else:
        url = location
    head, _, fragment = url.partition("#")
    name = None
    kept = []
    for part in fragment.split("&") if fragment else []:
        key, _, value = part.partition("=")
        if key == "egg":
            name = value
        else:
            kept.append(part)
    url = head + ("#" + "&".join(kept) if kept else "")
    if name is None and not url.startswith(_VCS):
        filename = unquote(urlsplit(head).path.rstrip("/").rsplit("/", 1)[-1])
        try:
            if filename.endswith(".whl"):
                name = parse_wheel_filename(filename)[0]
            elif filename.endswith((".tar.gz", ".zip")):
                name = parse_sdist_filename(filename)[0]
        except (InvalidWheelFilename, InvalidSdistFilename):
            name = None
    return url, name


def _project_name(url: str) -> str | None:
    """A local project directory's name, from ``pyproject.toml`` or ``setup.cfg`` (no build needed)."""
    if not url.startswith("file://"):
        return None
    path = _url_path(url)
    if not os.path.isdir(path):
        return None
    pyproject = os.path.join(path, "pyproject.toml")
    if os.path.isfile(pyproject):
        data = _toml(pyproject, read_bounded(pyproject, "project file").decode("utf-8", "replace"))
        project = data.get("project")
        if isinstance(project, dict) and isinstance(project.get("name"), str):
            name: str = project["name"]
            return name
    setup_cfg = os.path.join(path, "setup.cfg")
    if os.path.isfile(setup_cfg):
        import configparser

        parser = configparser.ConfigParser()
        try:
            parser.read_string(read_bounded(setup_cfg, "project file").decode("utf-8", "replace"))
        except configparser.Error:
            return None
        cfg_name: str | None = parser.get("metadata", "name", fallback=None)
        return cfg_name or None
    return None


def _argument_option(line: str, here: str) -> list[tuple[str, str]]:
    """One option given as an argument: ``OPTION`` or ``OPTION VALUE`` (the value taken as it is, spaces too)."""
    head, _, value = line.strip().partition(" ")
    option = _SPELLINGS.get(head)
    if option is None or option in {"--requirement", "--constraint", "--find-links"}:
        msg = f"{here}{line!r} is not an option penvcache takes as an argument (see penvcache ensure --help)"
        raise InvalidDeps(msg)
    value = value.strip()
    if (option in _FLAGS) != (not value):
        msg = f"{here}{head} takes {'no value' if option in _FLAGS else 'exactly one value'}: {line!r}"
        raise InvalidDeps(msg)
    return [(option, value)]


def _split_options(line: str, here: str) -> list[tuple[str, str]]:
    """The options of an option line (several may share one), canonical names and values."""
    try:
        words = _words(line)
    except ValueError as e:
        msg = f"{here}cannot parse {line!r}: {e}"
        raise InvalidDeps(msg) from e
    found: list[tuple[str, str]] = []
    while words:
        head = words.pop(0)
        value: str | None = None
        if head.startswith("--") and "=" in head:  # --requirement=base.txt
            head, value = head.split("=", 1)
        elif head not in _SPELLINGS and head[:2] in _SPELLINGS and not head.startswith("--"):  # -rbase.txt
            head, value = head[:2], head[2:]
        option = _SPELLINGS.get(head)
        if option is None or option in _ARGUMENT_ONLY:
            if not head.startswith("-"):
                msg = f"{here}{head!r} is neither an option nor a value of one: {line!r}"
                raise InvalidDeps(msg)
            if option is not None:  # uv's command-line options: --extra, --group, --project, --exact...
                usage = head if option in _FLAGS else f"{head} {'DIR' if option == '--project' else 'VALUE'}"
                msg = (
                    f"{here}option {head} is not supported in a requirements file (by uv either): give it on "
                    f"penvcache's command line (penvcache ensure ... {usage}): {line!r}"
                )
                raise InvalidDeps(msg)
            instead = _INSTEAD.get(head)
            near = _nearest(head) if instead is None else ""
            hint = (
                f"write {instead}"
                if instead
                else f"did you mean {near}?"
                if near
                else _PIP_ONLY.get(head, "uv takes no such option in a requirements file: remove it")
            )
            msg = f"{here}option {head} is not supported by penvcache ({hint}): {line!r}"
            raise InvalidDeps(msg)
        if option in _FLAGS:
            if value is not None:
                msg = f"{here}{head} takes no value: {line!r}"
                raise InvalidDeps(msg)
            found.append((option, ""))
            continue
        if value is None:
            if not words or (words[0].startswith("-") and words[0] != "-"):
                msg = f"{here}{head} takes exactly one value: {line!r}"
                raise InvalidDeps(msg)
            value = words.pop(0)
        if not value:
            msg = f"{here}{head} takes exactly one value: {line!r}"
            raise InvalidDeps(msg)
        found.append((option, value))
    return found


def _words(text: str) -> list[str]:
    """``shlex.split(text)``; text without quotes or backslashes is split on whitespace, which gives the same words
    far faster (shlex reads character by character: 1,600 ``--hash`` options of a compiled lock took 0.2 s)."""
    if "'" in text or '"' in text or "\\" in text:
        return shlex.split(text)
    return _WORD.findall(text)


def _editable_value(line: str, here: str) -> str | None:
    """The value of an ``-e``/``--editable`` line (the rest of it, unquoted), or None for any other line."""
    match = re.match(r"(?:-e\s*|--editable(?:=|\s+))(\S.*)$", line)
    if match is None:
        return None
    value, *options = _LINE_OPTIONS.split(match.group(1), maxsplit=1)
    if options:
        msg = (
            f"{here}option {options[0].split()[0]} is not supported on a requirement line by penvcache: {line!r} "
            "(write it on a line of its own, as uv takes it)"
        )
        raise InvalidDeps(msg)
    value = value.strip()
    if value[:1] in {"'", '"'}:
        try:
            words = shlex.split(value)
        except ValueError as e:
            msg = f"{here}cannot parse {line!r}: {e}"
            raise InvalidDeps(msg) from e
        if len(words) == 1:
            value = words[0]
    return value


def _cwd_hint(location: str, base: str) -> str:
    """For a relative path in a deps file that names something else (or nothing) there, but something from the
    current directory, where pip and uv look: what to write instead."""
    if location.startswith("file:"):
        location = unquote(location[len("file:") :])
    if _SCHEME.match(location) or os.path.isabs(os.path.expanduser(location)):
        return ""
    path, _, _ = location.partition("#")
    from_cwd = _abspath(os.getcwd(), path)
    if from_cwd == _abspath(base, path) or not os.path.exists(from_cwd):
        return ""
    relative = os.path.relpath(from_cwd, base)
    relative = relative if relative.startswith(".") else f"./{relative}"
    return (
        f"; paths in a deps file are relative to the file, where pip and uv take them from the current "
        f"directory: for {from_cwd} write {relative}"
    )


def _refuse_other_vcs(url: str, where: str, text: str) -> None:
    """uv installs from git only: a Mercurial, Subversion or Bazaar URL is bad input saying what to write."""
    for prefix, vcs in _OTHER_VCS.items():
        if url.startswith(prefix):
            msg = (
                f"{where}: {text!r}: uv installs from git only, not {vcs}; write an archive URL of the revision "
                "(`NAME @ https://HOST/NAME-1.0.tar.gz`) or install a local checkout (`-e ./DIR`)"
            )
            raise InvalidDeps(msg)


def _releases_option(option: str, value: str, here: str) -> tuple[str, str]:
    """pip's ``--all-releases``/``--only-final`` as uv's ``--prerelease``: for ``:all:`` only."""
    if value == ":all:":
        return ("--prerelease", "allow") if option == "--all-releases" else ("--prerelease", "disallow")
    instead = "--pre" if option == "--all-releases" else "--prerelease disallow"
    msg = (
        f"{here}{option} {value}: uv takes pre-releases for every package or by specifier only "
        f"(write {instead} for every package, or a pre-release in the requirement, e.g. `NAME>=2.0b1`)"
    )
    raise InvalidDeps(msg)


def _nearest(option: str) -> str:
    import difflib

    close = difflib.get_close_matches(option, [s for s in _SPELLINGS if s.startswith("--")], n=1, cutoff=_TYPO_RATIO)
    return close[0] if close and option.startswith("--") else ""


def _uv_option(option: str, value: str, here: str) -> tuple[str, str]:
    """An option for uv's command line, as uv spells it."""
    if option == "--pre":
        return "--prerelease", "allow"
    if option == "--prerelease" and value not in PRERELEASE:
        msg = f"{here}--prerelease {value!r}: uv takes one of {', '.join(PRERELEASE)}"
        raise InvalidDeps(msg)
    if option == "--config-setting" and "=" not in value:
        msg = f"{here}--config-settings {value!r} is not KEY=VALUE"
        raise InvalidDeps(msg)
    return option, value


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Yield (first line number, content) with continuations joined and comments and blanks dropped."""
    pending: list[str] = []
    start = 0
    for lineno, raw in enumerate(_LINE_BREAK.split(text), start=1):  # not splitlines: \f, \x1c, \x85... end no line
        if not pending:
            start = lineno
        line = _COMMENT.sub("", raw) if "#" in raw else raw
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
