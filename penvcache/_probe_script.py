"""The validation probe: run by the venv's own interpreter (``python -I``), so it uses the stdlib only.

penvcache imports it by a one-line ``-c`` bootstrap (see ``_probe.probe_command``) rather than passing its source:
that way the interpreter reuses its cached bytecode, where compiling this file would cost 3-5 ms on every run.

It reads one request per line on the descriptor ``--requests=FD`` (stdin, which imports get as ``/dev/null``,
when not given): the canonical names of the distributions to check separated by spaces, each one either checked
in full (its imports too) or, prefixed with ``~``, only read (version, requirements, files: a dependency of a
checked one). It answers each request with one JSON line: the interpreter, its marker environment, its
site-packages, and for every named distribution its version, its ``Requires-Dist``, its import names (the top-level
modules, or under a namespace package the first regular packages and modules it ships), how each import went, the
files of its ``RECORD`` that are missing or not of their recorded size, and the paths whose stat makes up the venv's
content stamp, with the stat facts of each (``facts``: the same ``st_ino``, ``st_mtime_ns`` and ``st_size`` that
``penvcache._key.take`` reads), taken when the probe first meets the path, before it reads or imports what the path
holds: site-packages when the probe starts, a distribution's metadata directory before its metadata is read, its
modules before they are imported. The caller records those facts, not the paths' facts after validation, so a
change made while it validates shows at the next call. Before each import it writes ``>DIST MODULE`` on a line of
its own, so that the caller can name the module that hangs. Imports print to stderr, never into the answers.

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


def to_json(value):  # noqa: PLR0911 (one return per JSON type)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, int):
        return str(int(value))
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
    """The path (first column) and size (third, "" when none) of each line of a RECORD file, as csv.reader reads it."""
    lines = text.splitlines()
    if '"' in text:  # a quoted field: let the csv module get every quoting rule right
        import csv

        rows = [row for row in csv.reader(lines) if row]
    else:
        rows = [line.split(",") for line in lines if line]
    return [(row[0], row[2] if len(row) > 2 else "") for row in rows]


#: each stamp path's stat facts ([st_ino, st_mtime_ns, st_size], or None when it cannot be stat'd), as first taken
FACTS = {}


def fact(path):
    """The stat facts of ``path`` as the probe first saw them (stat'd now if it never was)."""
    if path in FACTS:
        return FACTS[path]
    try:
        st = os.stat(path)
    except OSError:
        found = None
    else:
        found = [st.st_ino, st.st_mtime_ns, st.st_size]
    FACTS[path] = found
    return found


#: whether this interpreter writes bytecode next to the sources it imports (``__pycache__``)
WRITES_BYTECODE = [False]


def dir_fact(path):
    """:func:`fact` of a directory an import may write bytecode into (site-packages, a package's): its
    ``__pycache__`` is made first, as the import would make it, so that writing bytecode changes no fact taken."""
    if path not in FACTS and WRITES_BYTECODE[0]:
        try:  # noqa: SIM105 (contextlib would be an import more)
            os.mkdir(os.path.join(path, "__pycache__"))
        except OSError:  # there already, or not ours to write: the import writes nothing there either
            pass
    return fact(path)


class FastDist:
    """A plain ``.dist-info`` directory, read without importlib.metadata."""

    def __init__(self, root, info):
        self.root = root  # the sys.path entry that holds it
        self.path = os.path.join(root, info)
        fact(self.path)  # before its metadata is read
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
        """Each RECORD path's parts, as PurePosixPath splits them, with its recorded size (or None)."""
        for entry, size in self.entries:
            size = int(size) if size.isdigit() else None
            if entry.startswith("/"):
                yield (entry,), size  # an absolute path: never a module
                continue
            yield tuple(part for part in entry.split("/") if part not in ("", ".")), size

    def locate(self, parts):
        return os.path.join(self.root, *parts)


class MetadataDist:
    """A distribution as importlib.metadata reads it, for whatever the fast reader leaves alone."""

    def __init__(self, dist):
        self.dist = dist
        info = getattr(dist, "_path", None)
        self.path = None if info is None else str(info)
        try:
            self.version = dist.version
            self.requires = dist.requires or []
            self.top_level = dist.read_text("top_level.txt")
            self.record = dist.files or []
        except UnicodeDecodeError:  # a metadata file that is not UTF-8: damaged, as if it had no version
            self.version, self.requires, self.top_level, self.record = None, [], None, []
        self.paths = {}

    def files(self):
        for path in self.record:
            self.paths[path.parts] = path
            yield path.parts, path.size

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


_MODULE_SUFFIXES = (".py", ".so", ".pyd")


def module_name(filename):
    """The module a file in a package directory defines (``mod.cpython-312-x86_64-linux-gnu.so``: ``mod``), or None."""
    if not filename.endswith(_MODULE_SUFFIXES):
        return None
    name = filename.split(".")[0]
    return name if name.isidentifier() else None


def old_style_namespace(dist, parts, size):
    """True for a pkgutil or pkg_resources namespace package's ``__init__.py`` (``extend_path``,
    ``declare_namespace``): every distribution of the namespace ships the same small file."""
    if not parts[-1].endswith(".py") or (size is not None and size > 2048):
        return False
    try:
        with open(dist.locate(parts), "rb") as f:
            text = f.read(4096)
    except OSError:
        return False
    return b"extend_path(" in text or b"declare_namespace(" in text


def import_roots(dist, files):
    """What to import to check a distribution: (dotted name, the RECORD parts of the file that makes it a regular
    package or a module, or None).

    These are its top-level modules and packages; under a namespace package (a directory it ships without an
    ``__init__``, such as ``google/`` or ``google/cloud/``, or with the ``__init__.py`` of a pkgutil or
    pkg_resources namespace), the first regular packages and modules it ships there
    (``google/cloud/storage/__init__.py``: ``google.cloud.storage``).
    """
    paths = [parts for parts, _ in files if parts and parts[0] not in ("..", "__pycache__") and parts[0][:1] != "/"]
    inits = {}
    for parts in paths:
        if len(parts) > 1 and module_name(parts[-1]) == "__init__":
            inits.setdefault(parts[:-1], parts)
    sizes = dict(files)
    parents = {prefix[:i] for prefix in inits for i in range(1, len(prefix))}
    for prefix in [p for p in inits if p in parents]:  # a package with packages of its own in the distribution
        if old_style_namespace(dist, inits[prefix], sizes.get(inits[prefix])):
            del inits[prefix]
    roots = {}
    for parts in paths:
        if parts[0].endswith((".dist-info", ".data", ".egg-info")) or parts[0].startswith("__editable__"):
            continue
        for depth in range(1, len(parts)):
            prefix = parts[:depth]
            if not prefix[-1].isidentifier():
                break
            if prefix in inits:
                roots.setdefault(".".join(prefix), inits[prefix])
                break
        else:  # a module file, directly at the top or in a namespace directory
            name = module_name(parts[-1])
            if name is not None and name != "__init__":
                roots.setdefault(".".join((*parts[:-1], name)), parts)
    text = dist.top_level
    if text:  # what the build tool said the top-level names are: nothing else is imported
        listed = [n.strip().replace("/", ".") for n in text.splitlines()]
        listed = [n for n in listed if n and "." not in n and n.isidentifier()]
        if listed:
            chosen = {name: parts for name, parts in roots.items() if name.split(".")[0] in listed}
            for name in listed:
                if not any(root.split(".")[0] == name for root in chosen):
                    chosen[name] = None
            roots = chosen
    return list(roots.items())


def ships(files, module):
    """True when the distribution's RECORD has the module (a package directory or a module file)."""
    parts = tuple(module.split("."))
    for path, _ in files:
        if path[: len(parts)] == parts and len(path) > len(parts):
            return True
        if path[: len(parts) - 1] == parts[:-1] and len(path) == len(parts) and module_name(path[-1]) == parts[-1]:
            return True
    return False


def one_line(e):
    """An exception as one line: traceback's last line of it, after the exception's type when that is not in it."""
    import traceback

    lines = [line.strip() for line in "".join(traceback.format_exception_only(type(e), e)).splitlines()]
    lines = [line for line in lines if line]
    kind = type(e).__qualname__
    if type(e).__module__ not in ("builtins", "__main__"):
        kind = "{}.{}".format(type(e).__module__, kind)
    last = lines[-1] if lines else kind
    return last if last.startswith(kind) else "{}: ... {}".format(kind, last)


def missing_module(e):
    """The module a ModuleNotFoundError names, also when an import re-raised it as another ImportError
    (``raise ImportError("install the [d] extra") from e``), else None."""
    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, ModuleNotFoundError):
            return e.name if isinstance(e.name, str) else None
        if not isinstance(e, ImportError):
            return None
        e = e.__cause__ or e.__context__
        seen += 1
    return None


def check_import(name, init_file):
    """(None, None) when the module imports as its distribution ships it, else (a reason, the missing module's
    name for a ModuleNotFoundError)."""
    try:
        __import__(name)  # the same as importlib.import_module, without importing importlib
    except BaseException as e:  # an import may raise anything, SystemExit included
        if isinstance(e, KeyboardInterrupt):
            raise
        return "import {} failed: {}".format(name, one_line(e)), missing_module(e)
    module = sys.modules.get(name)
    if init_file is not None and getattr(module, "__file__", None) is None:
        return "import {} found only a namespace package: {} is missing".format(name, init_file), None
    return None, None


def damaged_files(dist, files):
    """The RECORD files (those with a recorded size; never .pyc) that are missing or not of their recorded size:
    [path, size found or None when missing, size recorded]."""
    damaged = []
    stat = os.stat
    for parts, size in files:
        if size is None or not parts or parts[-1].endswith(".pyc"):
            continue
        path = dist.locate(parts)
        try:
            found = stat(path).st_size
        except OSError:
            damaged.append([path, None, size])
            continue
        if found != size:
            damaged.append([path, found, size])
    return damaged


def skipped(name, dist_name):
    return dist_name in SKIP or any(name == s or name.startswith(s + ".") for s in SKIP)


def probe_dist(name, dist, full, answers):
    files = list(dist.files())
    roots = import_roots(dist, files)
    modules = {}
    missing = {}
    skips = []
    paths = []
    if dist.path is not None:
        paths.append(dist.path)
        fact(dist.path)
    for _, parts in roots:  # the facts of what RECORD says each import finds, before anything is imported
        if parts is not None:
            path = dist.locate(parts)
            fact(path)
            if module_name(parts[-1]) == "__init__":
                dir_fact(os.path.dirname(path))
    for root, parts in roots:
        if full and not skipped(root, name):
            answers.write(">{} {}\n".format(name, root))
            answers.flush()
            reason, missed = check_import(root, None if parts is None else dist.locate(parts))
            modules[root] = reason
            if missed is not None:
                missing[root] = [missed, ships(files, missed)]
            where = getattr(sys.modules.get(root), "__file__", None) if reason is None else None
            if where:
                paths.append(where)
                if os.path.basename(where).startswith("__init__."):
                    paths.append(os.path.dirname(where))
                continue
        elif full:
            skips.append(root)
        if parts is not None:  # not imported (a dependency of a checked one, skipped, or failed): from RECORD
            path = dist.locate(parts)
            paths.append(path)
            if module_name(parts[-1]) == "__init__":
                paths.append(os.path.dirname(path))
    return {
        "version": dist.version,
        "requires": dist.requires,
        "roots": [root for root, _ in roots],
        "modules": modules,
        "missing": missing,
        "skipped": skips,
        "damaged": damaged_files(dist, files),
        "paths": paths,
        # a module found elsewhere than RECORD says is stat'd here, after its import, the only time it is known
        "facts": [fact(path) for path in paths],
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


#: import names (or distribution names) not to import: ``--skip-import=A,B``
SKIP = set()


def die_with_the_caller(fd):
    """Exit as soon as ``fd``, a pipe whose only writer is the caller (it never writes), ends: when the caller has
    gone, however it was killed. The probe runs in a session of its own, so nothing else would stop an import that
    lingers. A thread of ``_thread`` (built in): no module to import, and no fork in the caller as a
    ``preexec_fn`` would take."""
    import _thread

    def watch():
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os._exit(1)

    _thread.start_new_thread(watch, ())


def main():
    SEARCH_PATH[:] = sys.path
    args = sys.argv[1:]
    FAST_READER[0] = plain_finders() and "--importlib-metadata" not in args
    requests = sys.stdin
    for arg in args:
        if arg.startswith("--requests="):
            requests = os.fdopen(int(arg.partition("=")[2]), "r", encoding="utf-8")
        elif arg.startswith("--skip-import="):
            SKIP.update(n for n in arg.partition("=")[2].split(",") if n)
        elif arg.startswith("--lifeline="):
            die_with_the_caller(int(arg.partition("=")[2]))
    site_packages = site_packages_dirs()
    WRITES_BYTECODE[0] = (
        not sys.dont_write_bytecode
        and getattr(sys, "pycache_prefix", None) is None
        and sys.implementation.cache_tag is not None
    )
    site_facts = [dir_fact(path) for path in site_packages]  # before anything is read: what validation starts from
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever an import prints goes to stderr
    environment = marker_environment()
    python = {
        "executable": sys.executable,
        "version": environment["python_full_version"],
        "implementation": environment["platform_python_implementation"],
    }
    for line in requests:
        report = {}
        for word in line.split():
            name = word.lstrip("~")
            dist = find_dist(name)
            report[name] = None if dist is None else probe_dist(name, dist, word[:1] != "~", answers)
        answer = {
            "python": python,
            "environment": environment,
            "site_packages": site_packages,
            "site_facts": site_facts,
            "dists": report,
        }
        answers.write(to_json(answer) + "\n")
        answers.flush()
    sys.stderr.flush()
    os._exit(0)  # skip finalization: nothing the probe imported needs it, and the caller waits for the exit
