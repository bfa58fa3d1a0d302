"""Test kit: tiny wheels and a slow sdist, built locally so no test needs the network."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import textwrap
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

_WHEEL = b"Wheel-Version: 1.0\nGenerator: penvcache-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(
    wheelhouse: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    extras: Mapping[str, Iterable[str]] | None = None,
    module_source: str | None = None,
    top_level_txt: bool = True,
    tag: str = "py3-none-any",
) -> Path:
    """Write ``name-version-TAG.whl`` (``py3-none-any`` unless told) with one package (``name`` with ``_``) into
    ``wheelhouse``."""
    module = name.replace("-", "_").lower()
    dist = f"{name.replace('-', '_')}-{version}"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in (extras or {}).items():
        metadata.append(f"Provides-Extra: {extra}")
        metadata += [f'Requires-Dist: {r}; extra == "{extra}"' for r in reqs]
    source = module_source if module_source is not None else f'__version__ = "{version}"\n'
    files = {
        f"{module}/__init__.py": source.encode(),
        f"{module}/sub.py": b"VALUE = 1\n",
        f"{dist}.dist-info/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist}.dist-info/WHEEL": _WHEEL.replace(b"py3-none-any", tag.encode()),
    }
    if top_level_txt:
        files[f"{dist}.dist-info/top_level.txt"] = f"{module}\n".encode()
    record = [_record_line(path, data) for path, data in files.items()]
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    path = wheelhouse / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name_in_zip, data in files.items():
            zf.writestr(name_in_zip, data)
    return path


_SLOW_BACKEND = """
import os, time, zipfile, base64, hashlib

NAME, VERSION, MODULE = {name!r}, {version!r}, {module!r}

def _line(path, data):
    d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{path}},sha256={{d}},{{len(data)}}"

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if os.environ.get("SLOW_BUILD_MARKER"):  # tells a test that the install is under way
        open(os.environ["SLOW_BUILD_MARKER"], "w").close()
    release = os.environ.get("SLOW_BUILD_RELEASE")
    if release:  # a test says when the build may end (within a minute)
        end = time.monotonic() + 60
        while not os.path.exists(release) and time.monotonic() < end:
            time.sleep(0.01)
    else:
        time.sleep(float(os.environ.get("SLOW_BUILD_SECONDS", "{seconds}")))
    dist = f"{{NAME.replace('-', '_')}}-{{VERSION}}"
    files = {{
        f"{{MODULE}}/__init__.py": b"SLOW = True\\n",
        f"{{dist}}.dist-info/METADATA": f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"
        .encode(),
        f"{{dist}}.dist-info/WHEEL": {wheel!r},
    }}
    record = [_line(p, d) for p, d in files.items()] + [f"{{dist}}.dist-info/RECORD,,"]
    files[f"{{dist}}.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    wheel = f"{{dist}}-{tag}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zf:
        for p, d in files.items():
            zf.writestr(p, d)
    return wheel
"""


#: the module names of the slow sdists built in this process: a uv cache that holds one's wheel skips its build
SLOW_SDIST_MODULES: set[str] = set()


def build_slow_sdist(wheelhouse: Path, name: str, version: str, seconds: float, tag: str = "py3-none-any") -> Path:
    """An sdist whose in-tree build backend sleeps ``seconds`` before it writes the wheel (tagged ``tag``).

    With ``$SLOW_BUILD_RELEASE`` set it waits (a minute at most) for that file instead; ``$SLOW_BUILD_SECONDS``
    overrides ``seconds``; ``$SLOW_BUILD_MARKER`` is a file it makes when the build starts.
    """
    module = name.replace("-", "_").lower()
    SLOW_SDIST_MODULES.add(module)
    root = f"{name.replace('-', '_')}-{version}"
    files = {
        "pyproject.toml": textwrap.dedent(
            """\
            [build-system]
            requires = []
            build-backend = "slow_backend"
            backend-path = ["."]
            """
        ),
        "slow_backend.py": _SLOW_BACKEND.format(
            name=name,
            version=version,
            module=module,
            seconds=seconds,
            wheel=_WHEEL.replace(b"py3-none-any", tag.encode()),
            tag=tag,
        ),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    wheelhouse.mkdir(parents=True, exist_ok=True)
    path = wheelhouse / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{rel}")
            info.size = len(data)
            info.mtime = 0
            tf.addfile(info, io.BytesIO(data))
    return path


def site_packages(venv: Path) -> Path:
    (lib,) = (venv / "lib").glob("python3*")
    return lib / "site-packages"


def build_wheel_files(
    wheelhouse: Path,
    name: str,
    version: str,
    files: Mapping[str, str],
    *,
    requires: Iterable[str] = (),
    top_level: Iterable[str] = (),
) -> Path:
    """Write ``name-version-py3-none-any.whl`` holding exactly ``files`` (path in the wheel: text), with its metadata
    and a RECORD; ``top_level`` names go into ``top_level.txt`` (none: no such file)."""
    dist = f"{name.replace('-', '_')}-{version}"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    content = {path: text.encode() for path, text in files.items()}
    content[f"{dist}.dist-info/METADATA"] = ("\n".join(metadata) + "\n").encode()
    content[f"{dist}.dist-info/WHEEL"] = _WHEEL
    names = list(top_level)
    if names:
        content[f"{dist}.dist-info/top_level.txt"] = "".join(f"{n}\n" for n in names).encode()
    record = [_record_line(path, data) for path, data in content.items()]
    record.append(f"{dist}.dist-info/RECORD,,")
    content[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    path = wheelhouse / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name_in_zip, data in content.items():
            zf.writestr(name_in_zip, data)
    return path


_PROJECT_BACKEND = """
import os, zipfile, base64, hashlib, tomllib

def _meta():
    with open("pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    lines += [f"Requires-Dist: {r}" for r in project.get("dependencies", [])]
    return project["name"], project["version"], "\\n".join(lines) + "\\n"

def _line(path, data):
    d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={d},{len(data)}"

def _wheel(directory, files_for):
    name, version, metadata = _meta()
    module = name.replace("-", "_").lower()
    dist = f"{module}-{version}"
    files = files_for(module)
    files[f"{dist}.dist-info/METADATA"] = metadata.encode()
    files[f"{dist}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    )
    record = [_line(p, d) for p, d in files.items()] + [f"{dist}.dist-info/RECORD,,"]
    files[f"{dist}.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    wheel = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, wheel), "w") as zf:
        for p, d in files.items():
            zf.writestr(p, d)
    return wheel

def get_requires_for_build_wheel(config_settings=None):
    return []

get_requires_for_build_editable = get_requires_for_build_wheel

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    def files(module):
        out = {}
        for root, _, names in os.walk(module):
            for n in names:
                if n.endswith(".py"):
                    p = os.path.join(root, n)
                    with open(p, "rb") as f:
                        out[p.replace(os.sep, "/")] = f.read()
        return out
    return _wheel(wheel_directory, files)

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    here = os.path.abspath(".")
    return _wheel(wheel_directory, lambda module: {f"_{module}_editable.pth": (here + "\\n").encode()})
"""


def build_project(
    root: Path, name: str, version: str, *, requires: Iterable[str] = (), extra_toml: str = "", tool_uv: str = ""
) -> Path:
    """A local project directory (PEP 517, an in-tree backend: builds offline, wheel and editable) whose
    pyproject.toml says its name, version and dependencies; ``extra_toml`` is appended as it is, ``tool_uv``
    under ``[tool.uv]``. Written again over an existing one, it changes only what it writes."""
    module = name.replace("-", "_").lower()
    (root / module).mkdir(parents=True, exist_ok=True)
    (root / module / "__init__.py").write_text(f'__version__ = "{version}"\n')
    deps = ", ".join(f'"{r}"' for r in requires)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "project_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{deps}]\n'
        + extra_toml
        + (f"\n[tool.uv]\n{tool_uv}\n" if tool_uv else "")
    )
    (root / "project_backend.py").write_text(_PROJECT_BACKEND)
    return root


def build_wheel_with_scripts(wheelhouse: Path, name: str, version: str) -> Path:
    """A wheel with what installers rewrite or generate: a console-scripts entry point and a ``#!python`` script."""
    module = name.replace("-", "_").lower()
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{module}/__init__.py": b"def main():\n    print('hello')\n",
        f"{dist}.data/scripts/{module}-script": b"#!python\nimport sys\nprint(sys.argv)\n",
        f"{dist}.data/data/share/{module}/notes.txt": b"data installed outside site-packages\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}.dist-info/WHEEL": _WHEEL,
        f"{dist}.dist-info/entry_points.txt": f"[console_scripts]\n{module}-hello = {module}:main\n".encode(),
    }
    record = [_record_line(path, data) for path, data in files.items()]
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    path = wheelhouse / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name_in_zip, data in files.items():
            zf.writestr(name_in_zip, data)
    return path


def build_wheel_with_files(wheelhouse: Path, name: str, version: str, files: Mapping[str, str]) -> Path:
    """A wheel of ``name`` holding ``files`` (paths relative to site-packages) and its metadata, nothing else."""
    dist = f"{name.replace('-', '_')}-{version}"
    content = {path: text.encode() for path, text in files.items()}
    content[f"{dist}.dist-info/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    content[f"{dist}.dist-info/WHEEL"] = _WHEEL
    record = [_record_line(path, data) for path, data in content.items()]
    record.append(f"{dist}.dist-info/RECORD,,")
    content[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    path = wheelhouse / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name_in_zip, data in content.items():
            zf.writestr(name_in_zip, data)
    return path


_FINDER = """\
import sys
from importlib import metadata


class Dist(metadata.Distribution):
    def read_text(self, filename):
        return "Name: finder-pkg\\nVersion: 4.2\\nRequires-Dist: alpha-pkg\\n" if filename == "METADATA" else None

    def locate_file(self, path):
        return path


class Finder:
    def find_spec(self, *args):
        return None

    def find_distributions(self, context=metadata.DistributionFinder.Context()):
        if context.name in (None, "finder-pkg"):
            yield Dist()


sys.meta_path.append(Finder())
"""


def add_finder(venv: Path) -> None:
    """A distribution finder on the venv's ``sys.meta_path`` (as some tools install one) that knows one
    distribution, ``finder-pkg`` 4.2 (requires ``alpha-pkg``), which has no directory and no files."""
    site = site_packages(venv)
    (site / "extra_finder.py").write_text(_FINDER)
    (site / "extra-finder.pth").write_text("import extra_finder\n")
