"""The validation probe: run by the venv's own interpreter (``python -I -c``), so it uses the stdlib only.

It reads one JSON request per line on stdin, ``{"dists": [canonical names]}``, and answers each with one
JSON line: the interpreter, its marker environment, its site-packages, and for every named distribution
its version, its ``Requires-Dist``, whether each of its top-level modules imports, and the paths whose
stat makes up the venv's content stamp. Imports print to stderr, never into the answers.
"""

import importlib
import importlib.metadata
import json
import os
import platform
import re
import sys
import sysconfig
import traceback


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def marker_environment():
    impl = sys.implementation
    version = "{0.major}.{0.minor}.{0.micro}".format(impl.version)
    if impl.version.releaselevel != "final":
        version += impl.version.releaselevel[0] + str(impl.version.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def top_level_modules(dist):
    """Top-level importable names with the file that makes each a regular package (or None)."""
    files = dist.files or []
    inits = {}
    names = []
    for path in files:
        parts = path.parts
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
            inits[head] = str(dist.locate_file(path))
    text = dist.read_text("top_level.txt")
    if text:
        listed = [n.strip().replace("/", ".") for n in text.splitlines()]
        names = [n for n in listed if n and "." not in n and n.isidentifier()] or names
    return [(name, inits.get(name)) for name in names]


def check_import(name, init_file):
    """None when the module imports as its distribution ships it, else a reason."""
    try:
        module = importlib.import_module(name)
    except BaseException as e:  # an import may raise anything, SystemExit included
        if isinstance(e, KeyboardInterrupt):
            raise
        line = traceback.format_exception_only(type(e), e)[-1].strip()
        return "import {} failed: {}".format(name, line)
    if init_file is not None and getattr(module, "__file__", None) is None:
        return "import {} found only a namespace package: {} is missing".format(name, init_file)
    return None


def probe_dist(dist):
    modules = {}
    paths = []
    info = getattr(dist, "_path", None)
    if info is not None:
        paths.append(str(info))
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
        "requires": dist.requires or [],
        "modules": modules,
        "paths": paths,
    }


def main():
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever an import prints goes to stderr
    installed = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            installed.setdefault(canonical(name), dist)
    paths = sysconfig.get_paths()
    for line in sys.stdin:
        request = json.loads(line)
        report = {}
        for name in request["dists"]:
            dist = installed.get(name)
            report[name] = None if dist is None else probe_dist(dist)
        answer = {
            "python": {
                "executable": sys.executable,
                "version": platform.python_version(),
                "implementation": platform.python_implementation(),
            },
            "environment": marker_environment(),
            "site_packages": sorted({paths["purelib"], paths["platlib"]}),
            "dists": report,
        }
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


main()
