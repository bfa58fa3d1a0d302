"""The validation probe: run by the venv's own interpreter (``python -I``), so it uses the stdlib only.

penvcache imports it by a one-line ``-c`` bootstrap (see ``_probe.probe_command``) rather than passing its source:
that way the interpreter reuses its cached bytecode, where compiling this file would cost 3-5 ms on every run.

It reads one request per line on stdin, the canonical names of the distributions to check separated by spaces,
and answers each with one JSON line: the interpreter, its marker environment, its site-packages, and for every
named distribution its version, its ``Requires-Dist``, whether each of its top-level modules imports, and the
paths whose stat makes up the venv's content stamp. Imports print to stderr, never into the answers.

It starts in a few milliseconds, because its cost is part of every miss: it imports no module that a bare
interpreter has not loaded already, so no ``json``, ``re``, ``platform``, ``sysconfig`` or
``importlib.metadata``. A distribution is found the way ``importlib.metadata.distribution(name)`` finds it,
the first ``.dist-info`` or ``.egg-info`` directory on ``sys.path`` whose name matches, and a plain
``.dist-info`` directory is read here (``METADATA`` headers, ``RECORD``, ``top_level.txt``; ``csv`` only for a
quoted ``RECORD`` line). Anything else (an ``.egg-info``, an egg or zip on ``sys.path``, another distribution
finder on ``sys.meta_path``, a missing ``METADATA``, ``Version`` or ``RECORD``, a folded ``Version`` or
``Requires-Dist``, a file that is not UTF-8) is left to ``importlib.metadata``, imported only then. The
``--importlib-metadata`` argument leaves everything to it (the tests compare the two).
"""

import os
import sys


def canonical(name):
    """PEP 503: runs of ``-``, ``_`` and ``.`` become one ``-``, lower case (``re`` would cost an import)."""
    name = name.replace("_", "-").replace(".", "-")
    while "--" in name:
        name = name.replace("--", "-")
    return name.lower()


def marker_environment():
    impl = sys.implementation
    version = "{0.major}.{0.minor}.{0.micro}".format(impl.version)
    if impl.version.releaselevel != "final":
        version += impl.version.releaselevel[0] + str(impl.version.serial)
    uname = getattr(os, "uname", None)
    infos = tuple(uname()) if uname is not None else ()
    if impl.name != "cpython" or not any(infos) or infos[0] in ("OpenVMS", "Microsoft"):
        import platform  # what packaging's default_environment() uses; the fast path below gives the same values

        system, release, machine = platform.system(), platform.release(), platform.machine()
        uversion = platform.version()
        full, implementation = platform.python_version(), platform.python_implementation()
    else:
        # platform.uname() on POSIX is os.uname() with "unknown" as "", and platform.python_version() on CPython
        # is the leading run of [\w.+] characters of sys.version.
        system, _node, release, uversion, machine = ("" if v == "unknown" else v for v in infos)
        full = sys.version.split()[0] if sys.version else ""
        end = 0
        while end < len(full) and (full[end].isalnum() or full[end] in "_.+"):
            end += 1
        full, implementation = full[:end], "CPython"
    parts = full.split(".")
    return {
        "implementation_name": impl.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": machine,
        "platform_release": release,
        "platform_system": system,
        "platform_version": uversion,
        "python_full_version": full,
        "platform_python_implementation": implementation,
        "python_version": ".".join(parts[:2]),
        "sys_platform": sys.platform,
    }


# --- JSON out, without the json module (it imports re) -----------------------------------------------------------


def json_string(text):
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code > 0xFFFF:
            code -= 0x10000
            out.append("\\u{:04x}\\u{:04x}".format(0xD800 | (code >> 10), 0xDC00 | (code & 0x3FF)))
        else:
            out.append("\\u{:04x}".format(code))
    return '"' + "".join(out) + '"'


def to_json(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, dict):
        return "{" + ", ".join(json_string(k) + ": " + to_json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    msg = "cannot encode {!r}".format(value)
    raise TypeError(msg)


# --- finding and reading distributions ---------------------------------------------------------------------------


class Unusual(Exception):
    """The fast reader does not handle this distribution; importlib.metadata will."""


def read_text(directory, filename):
    """A metadata file's text as importlib.metadata reads it (UTF-8, universal newlines), or None if absent."""
    try:
        with open(os.path.join(directory, filename), encoding="utf-8") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None
    except UnicodeDecodeError:
        raise Unusual() from None


_HEADER_NAME = frozenset(chr(c) for c in range(0x21, 0x7F) if c != 0x3A)


def parse_headers(text):
    """The header fields of a METADATA file as the email parser (compat32 policy) reads them: (lower name, value)."""
    fields = []
    for number, line in enumerate(text.split("\n")):
        if line[:1] in (" ", "\t"):  # a folded continuation of the previous field
            if not fields:
                raise Unusual()
            name, value = fields[-1]
            fields[-1] = (name, value + "\n" + line)
            continue
        colon = line.find(":")
        if number == 0 and line.startswith("From "):
            continue
        if colon < 0 or not all(ch in _HEADER_NAME for ch in line[:colon]):
            break  # a blank line (or anything that is not a header) ends the headers
        fields.append((line[:colon].lower(), line[colon + 1 :].lstrip(" \t")))
    return fields


def record_entries(text):
    """The path (first column) of each line of a RECORD file, as csv.reader reads it."""
    lines = text.splitlines()
    if '"' in text:  # a quoted field: let the csv module get every quoting rule right
        import csv

        return [row[0] for row in csv.reader(lines) if row]
    return [line.split(",", 1)[0] for line in lines if line]


class FastDist:
    """A plain ``.dist-info`` directory, read without importlib.metadata."""

    def __init__(self, root, info):
        self.root = root  # the sys.path entry that holds it
        self.path = os.path.join(root, info)
        text = read_text(self.path, "METADATA")
        if not text:
            raise Unusual()
        fields = parse_headers(text)
        versions = [value for name, value in fields if name == "version"]
        if not versions:
            raise Unusual()
        self.version = versions[0]
        self.requires = [value for name, value in fields if name == "requires-dist"]
        if any("\n" in value for value in [self.version, *self.requires]):
            raise Unusual()  # folded: importlib.metadata re-indents those, version by version
        if not self.requires and read_text(self.path, "requires.txt") is not None:
            raise Unusual()
        record = read_text(self.path, "RECORD")
        if not record:
            raise Unusual()
        self.entries = record_entries(record)
        self.top_level = read_text(self.path, "top_level.txt")

    def files(self):
        """Each RECORD path's parts, as PurePosixPath splits them."""
        for entry in self.entries:
            if entry.startswith("/"):
                yield ("/",)  # an absolute path: never a top-level module
                continue
            yield tuple(part for part in entry.split("/") if part not in ("", "."))

    def locate(self, parts):
        return os.path.join(self.root, *parts)


class MetadataDist:
    """A distribution as importlib.metadata reads it, for whatever the fast reader leaves alone."""

    def __init__(self, dist):
        self.dist = dist
        info = getattr(dist, "_path", None)
        self.path = None if info is None else str(info)
        self.version = dist.version
        self.requires = dist.requires or []
        self.top_level = dist.read_text("top_level.txt")
        self.paths = {}

    def files(self):
        for path in self.dist.files or []:
            self.paths[path.parts] = path
            yield path.parts

    def locate(self, parts):
        return str(self.dist.locate_file(self.paths[parts]))


_listings = {}
# What importlib.metadata would search, as it was before the probe imported anything (an import may change it);
# set by main().
SEARCH_PATH = []
# The fast reader, unless the standard finder is not the only one or the tests ask for importlib.metadata only.
FAST_READER = [False]


def plain_finders():
    """True when the standard PathFinder is the only finder on sys.meta_path that knows of distributions."""
    path_finder = getattr(sys.modules.get("_frozen_importlib_external"), "PathFinder", None)
    return path_finder is not None and all(
        finder is path_finder or getattr(finder, "find_distributions", None) is None for finder in sys.meta_path
    )


def listing(root):
    """The metadata directories in one sys.path entry by normalized name, as importlib.metadata's Lookup has them.

    Empty when the entry is not a readable directory, None when importlib.metadata must read it (a zip or an egg).
    """
    if root in _listings:
        return _listings[root]
    found = {}
    try:
        children = os.listdir(root)
    except NotADirectoryError:
        found = None  # a zip file
    except OSError:
        pass  # missing or unreadable: importlib.metadata finds nothing there either
    else:
        if root.lower().endswith(".egg"):
            found = None
        else:
            for child in children:
                low = child.lower()
                if low.endswith((".dist-info", ".egg-info")):
                    key = canonical(low.rpartition(".")[0].partition("-")[0])
                    found.setdefault(key, []).append(child)
    _listings[root] = found
    return found


def find_dist(name):
    """The distribution ``name`` (canonical) as importlib.metadata.distribution(name) finds it, or None."""
    if not FAST_READER[0]:
        return metadata_dist(name)
    for entry in SEARCH_PATH:
        root = entry or "."
        found = listing(root)
        if found is None:
            return metadata_dist(name)
        children = found.get(name)
        if children:
            if not children[0].lower().endswith(".dist-info"):
                return metadata_dist(name)  # an .egg-info
            try:
                return FastDist(root, children[0])
            except (Unusual, OSError):
                return metadata_dist(name)
    return None


def metadata_dist(name):
    import importlib.metadata

    dist = next(iter(importlib.metadata.distributions(name=name, path=SEARCH_PATH)), None)
    return None if dist is None else MetadataDist(dist)


# --- checking -----------------------------------------------------------------------------------------------------


def top_level_modules(dist):
    """Top-level importable names with the file that makes each a regular package (or None)."""
    inits = {}
    names = []
    for parts in dist.files():
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith((".dist-info", ".data", ".egg-info")):
            continue
        head = parts[0]
        if len(parts) == 1:
            if not head.endswith((".py", ".so", ".pyd")):
                continue
            head = head.split(".")[0]
        if not head.isidentifier() or head.startswith("__editable__"):
            continue
        if head not in names:
            names.append(head)
        if len(parts) == 2 and parts[1] == "__init__.py":
            inits[head] = dist.locate(parts)
    text = dist.top_level
    if text:
        listed = [n.strip().replace("/", ".") for n in text.splitlines()]
        names = [n for n in listed if n and "." not in n and n.isidentifier()] or names
    return [(name, inits.get(name)) for name in names]


def check_import(name, init_file):
    """None when the module imports as its distribution ships it, else a reason."""
    try:
        __import__(name)  # a top-level name: the same as importlib.import_module, without importing importlib
    except BaseException as e:  # an import may raise anything, SystemExit included
        if isinstance(e, KeyboardInterrupt):
            raise
        import traceback

        line = traceback.format_exception_only(type(e), e)[-1].strip()
        return "import {} failed: {}".format(name, line)
    module = sys.modules.get(name)
    if init_file is not None and getattr(module, "__file__", None) is None:
        return "import {} found only a namespace package: {} is missing".format(name, init_file)
    return None


def probe_dist(dist):
    modules = {}
    paths = []
    if dist.path is not None:
        paths.append(dist.path)
    for name, init_file in top_level_modules(dist):
        reason = check_import(name, init_file)
        modules[name] = reason
        where = getattr(sys.modules.get(name), "__file__", None) if reason is None else None
        if where:
            paths.append(where)
            if os.path.basename(where).startswith("__init__."):
                paths.append(os.path.dirname(where))
    return {
        "version": dist.version,
        "requires": dist.requires,
        "modules": modules,
        "paths": paths,
    }


def site_packages_dirs():
    """The venv's site-packages directories.

    On CPython, what site put on sys.path, ``site.getsitepackages()``: sysconfig's purelib and platlib (a distro's
    patched site may add more), without importing sysconfig and its config data, which costs 3-7 ms.
    """
    get = getattr(sys.modules.get("site"), "getsitepackages", None)
    if sys.implementation.name == "cpython" and get is not None:
        return sorted(set(get()))
    import sysconfig

    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def main():
    SEARCH_PATH[:] = sys.path
    FAST_READER[0] = plain_finders() and "--importlib-metadata" not in sys.argv[1:]
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever an import prints goes to stderr
    environment = marker_environment()
    site_packages = site_packages_dirs()
    python = {
        "executable": sys.executable,
        "version": environment["python_full_version"],
        "implementation": environment["platform_python_implementation"],
    }
    for line in sys.stdin:
        report = {}
        for name in line.split():
            dist = find_dist(name)
            report[name] = None if dist is None else probe_dist(dist)
        answer = {
            "python": python,
            "environment": environment,
            "site_packages": site_packages,
            "dists": report,
        }
        answers.write(to_json(answer) + "\n")
        answers.flush()
    sys.stderr.flush()
    os._exit(0)  # skip finalization: nothing the probe imported needs it, and the caller waits for the exit


if __name__ == "__main__":
    main()
