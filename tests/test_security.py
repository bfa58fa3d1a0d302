"""Never trust a stranger: an owner-only cache dir, no symlink followed, state checked as data, secrets redacted."""

from __future__ import annotations

import grp
import json
import marshal
import os
import pwd
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import penvcache
from penvcache import _state
from penvcache._redact import redact
from tests.conftest import ROOT, run_cli_here, wait_for

SECRET = "s3cret-Tok3n"
NOBODY = 65534


def _cache(tmp_path: Path) -> Path:
    return tmp_path / "penvcache-cache"


def _entry(tmp_path: Path, venv: Path) -> Path:
    return Path(_state.venv_dir(str(_cache(tmp_path)), str(venv)))


def _args(venv: Path, wheelhouse: Path, *reqs: str) -> list[str]:
    return [*reqs, "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]


def _cli(
    *args: str, umask: int | None = None, env: dict[str, str] | None = None, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """``penvcache ARGS`` (:func:`run_cli_here`), or ``python -m penvcache ARGS`` in its own session for ``run``,
    under another umask, for what must end at a deadline, or when ``process`` is set."""
    if not process and umask is None and args[:1] != ("run",):
        return run_cli_here(*args, env=env, cwd=ROOT)

    def setup() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [sys.executable, "-m", "penvcache", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
        preexec_fn=setup,
        start_new_session=True,
        env=env,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# --- point 2 of issue 10: a cache dir only its owner can touch ------------------------------------------------


def test_everything_in_the_cache_dir_is_owner_only_whatever_the_umask(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    """Under umask 000 the cache dir, its entries and every file in them are still 0700 / 0600."""
    assert _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg"), umask=0).returncode == 0
    ran = _cli("run", *_args(venv, wheelhouse, "alpha-pkg"), "--", "python", "-c", "pass", umask=0)
    assert ran.returncode == 0, ran.stderr
    assert _cli("ensure", *_args(venv, wheelhouse, "no-such-pkg"), umask=0).returncode == 4  # writes last.json
    assert _cli("stats", umask=0).returncode == 0  # folds the log into stats.json
    modes = {}
    for root, dirs, files in os.walk(_cache(tmp_path)):
        for name in [*dirs, *files]:
            path = Path(root, name)
            modes[str(path.relative_to(tmp_path))] = stat.S_IMODE(path.lstat().st_mode)
    modes[_cache(tmp_path).name] = stat.S_IMODE(_cache(tmp_path).stat().st_mode)
    names = {Path(p).name for p in modes}
    assert {"state.marshal", "lock", "users.db", "last.json", "stats.json"} <= names
    loose = {path: oct(mode) for path, mode in modes.items() if mode not in {0o700, 0o600}}
    assert loose == {}
    folders = [p for p in modes if (tmp_path / p).is_dir()]
    assert all(modes[p] == 0o700 for p in folders), modes


def test_the_missing_directories_above_the_cache_dir_are_made_owner_only(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    """Under umask 000 too: ``~/.cache`` on a new account is where other programs keep theirs (XDG: 0700)."""
    (tmp_path / "home").mkdir(mode=0o755)
    cache = tmp_path / "home" / "made" / "by-penvcache" / "cache"
    env = {**os.environ, "PENVCACHE_CACHE_DIR": str(cache)}
    assert _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg"), umask=0, env=env).returncode == 0
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (cache, cache.parent, cache.parent.parent)}
    assert modes == {"cache": "0o700", "by-penvcache": "0o700", "made": "0o700"}
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o755  # what was there is left as it was


@pytest.mark.parametrize("level", ["cache dir", "venvs", "entry"])
@pytest.mark.parametrize("change", ["foreign owner", "group-writable", "world-writable"])
def test_a_cache_dir_another_user_could_write_is_refused(
    tmp_path: Path, venv: Path, wheelhouse: Path, level: str, change: str
) -> None:
    """As ssh does with ~/.ssh: exit 2, one line naming the path, its owner or mode, and the fix; nothing read."""
    penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])  # a cache dir with an entry
    path = {"cache dir": _cache(tmp_path), "venvs": _cache(tmp_path) / "venvs", "entry": _entry(tmp_path, venv)}[level]
    if change != "world-writable" and os.geteuid() != 0:
        pytest.skip("giving a directory to another user or group needs root")
    if change == "foreign owner":
        os.chown(path, NOBODY, NOBODY)
    elif change == "group-writable":
        os.chown(path, -1, NOBODY)  # a group that is not the user's own
        path.chmod(0o770)
    else:
        path.chmod(0o707)
    for command in (["ensure", *_args(venv, wheelhouse, "alpha-pkg")], ["status", "alpha-pkg", "--venv", str(venv)]):
        proc = _cli(*command)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        line = _one_line_error(proc)
        assert f"refusing the cache dir {path}:" in line
        assert ("(uid 65534), not by" if change == "foreign owner" else "chmod go-w") in line
    if level == "cache dir":
        for command in (["list"], ["stats"]):
            proc = _cli(*command)
            assert proc.returncode == 2, proc.stderr
            assert f"refusing the cache dir {path}:" in _one_line_error(proc)


def test_a_group_writable_cache_dir_of_the_users_private_group_is_accepted(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    """Under umask 002 (Debian and Ubuntu users) directories are group-writable by the user's own group."""
    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(me.pw_gid)
    if group.gr_name != me.pw_name or set(group.gr_mem) - {me.pw_name}:
        pytest.skip(f"{me.pw_name}'s primary group {group.gr_name} is not a private group")
    assert _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg"), "-q").returncode == 0
    for path in (_cache(tmp_path), _cache(tmp_path) / "venvs", _entry(tmp_path, venv)):
        os.chown(path, -1, me.pw_gid)
        path.chmod(0o770)
    hit = _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg"))
    assert hit.returncode == 0, hit.stderr
    assert "penvcache: hit" in hit.stdout


PLANTED = [
    "state.marshal",
    "holder.json",
    "last.json",
    "lock",
    "users.db",
    "users",
    ".state.marshal.{pid}.0.tmp",
    ".holder.json.{pid}.0.tmp",
    ".last.json.{pid}.0.tmp",
    "state.marshal.{pid}.tmp",  # the temp names of penvcache 0.x: a guess is as good as a pid
    "holder.json.{pid}.tmp",
    "../../stats.log",
    "../../stats.json",
]
REFUSED = {"lock", "users.db", "users"}  # a lock or a directory penvcache would have to use as it is


@pytest.mark.parametrize("name", PLANTED)
def test_a_symlink_planted_in_the_entry_is_never_followed(
    tmp_path: Path, venv: Path, wheelhouse: Path, name: str
) -> None:
    """Wherever penvcache writes in its cache dir, a symlink to the user's file leaves that file untouched."""
    penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    victim = tmp_path / "bashrc"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    planted = _entry(tmp_path, venv) / name.format(pid=os.getpid())
    if planted.is_dir():
        planted.rmdir()
    planted.unlink(missing_ok=True)
    planted.symlink_to(victim)
    error: penvcache.PenvcacheError | None = None
    try:  # a miss (lock, holder, state, summary, stats), a use (shared lock, user file), a hit
        result = penvcache.ensure(venv, ["alpha-pkg", "gamma-pkg"], offline=True, find_links=[wheelhouse])
        assert result.status == "installed"
        with penvcache.use(venv, ["alpha-pkg", "gamma-pkg"], offline=True, find_links=[wheelhouse]):
            pass
        assert penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse]).status == "adopted"
    except penvcache.PenvcacheError as e:  # or refused, in one line that names the file
        error = e
    if name in REFUSED:
        assert isinstance(error, penvcache.InvalidInput)
        assert str(planted) in str(error)
        assert "symlink" in str(error)
    else:
        assert error is None
    assert victim.read_text() == "precious\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644


# --- point 3: state is data, not trust ------------------------------------------------------------------------


def _read_state_in_a_small_process(entry: Path) -> subprocess.CompletedProcess[str]:
    """``_state.read`` in a process that may not map more than 1 GiB: a crafted state cannot make it allocate."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    code = "import sys; from penvcache import _state; print(_state.read(sys.argv[1]))"
    return subprocess.run(
        [sys.executable, "-c", code, str(entry)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
        preexec_fn=limit,
        start_new_session=True,
    )


def _signed(state: dict[str, Any]) -> bytes:
    """``state`` as penvcache writes it: the header, the payload's length, the payload."""
    payload = marshal.dumps(state)
    return _state.MAGIC + len(payload).to_bytes(8, "big") + payload


def _good_state(tmp_path: Path, venv: Path, wheelhouse: Path) -> dict[str, object]:
    penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    state = _state.read(str(_entry(tmp_path, venv)))
    assert state is not None
    return state


@pytest.mark.parametrize(
    "data",
    [
        b"[\xff\xff\xff\x7f",  # a list of 2**31 items, in 5 bytes: marshal allocates it before reading any
        b"(\xff\xff\xff\x7f",
        marshal.dumps({"format": 3})[:3],
        b"penvcache-state\n" + (4).to_bytes(8, "big") + b"[\xff\xff\xff\x7f",  # the header, but the wrong length
        b"",
    ],
    ids=["huge-list", "huge-tuple", "truncated", "bad-length", "empty"],
)
def test_a_crafted_or_corrupt_state_is_a_miss_without_allocating(tmp_path: Path, data: bytes) -> None:
    entry = tmp_path / "entry"
    entry.mkdir()
    (entry / _state.STATE).write_bytes(data)
    proc = _read_state_in_a_small_process(entry)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "None\n", "")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stamp_paths", [1, 2]),
        ("stamp_paths", "not a list"),
        ("files", {"/x": 5}),
        ("files", {7: "x"}),
        ("components", {"requirements": 5}),
        ("installer", {"bin": 5}),
        ("installer", {"stat": "3"}),
        ("details", {"lines": {"a": [1]}}),
        ("details", {"salt": 5}),
        ("details", {"vcs": {"x": 1}}),
        ("file_sources", [None]),
        ("fingerprint", 1),
        ("when", "yesterday"),
        ("stamp_paths", ["/x\0y"]),  # os.stat raises ValueError for it
        ("local", 5),
        ("local", [["/p", "dir", 5, "d"]]),
        ("local", [["/p", "archive", ["1"], "d"]]),
        ("local", [["/p", "other", None, "d"]]),
        ("warnings", 5),
        ("python", 5),
    ],
)
def test_a_misshapen_state_is_a_miss_not_an_error(
    tmp_path: Path, venv: Path, wheelhouse: Path, field: str, value: object
) -> None:
    """Nested types are checked too: a signed state with a wrong part is a miss, and ensure repairs it."""
    state = _good_state(tmp_path, venv, wheelhouse)
    entry = _entry(tmp_path, venv)
    (entry / _state.STATE).write_bytes(_signed({**state, field: value}))
    assert _state.read(str(entry)) is None
    assert penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse]).status == "adopted"
    assert _state.read(str(entry)) is not None


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_state_naming_a_fifo_or_a_device_as_a_deps_file_is_never_read(
    tmp_path: Path, venv: Path, wheelhouse: Path, kind: str
) -> None:
    """The hit path reads the deps files the state names: only regular files, opened without blocking."""
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha-pkg\n")
    args = ["ensure", "-r", str(deps), "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    assert _cli(*args).returncode == 0
    entry = _entry(tmp_path, venv)
    state = _state.read(str(entry))
    assert state is not None
    if kind == "fifo":
        odd = tmp_path / "fifo"
        os.mkfifo(odd)
    else:
        odd = Path("/dev/zero")
    files = {str(odd): "0" * 64, **state["files"]}
    (entry / _state.STATE).write_bytes(_signed({**state, "files": files}))
    proc = _cli(*args, process=True)  # the deadline is run's timeout: a hang fails the test
    assert proc.returncode == 0, proc.stderr
    assert "penvcache: hit" in proc.stdout  # the raw inputs differ, so the deps were parsed: the same key


def test_a_salt_file_that_is_a_fifo_is_bad_input_not_a_hang(tmp_path: Path, venv: Path) -> None:
    fifo = tmp_path / "salt"
    os.mkfifo(fifo)
    proc = _cli("ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--salt-file", str(fifo), process=True)
    assert proc.returncode == 2
    assert f"--salt-file {fifo}: cannot read it" in _one_line_error(proc)


# --- point 4: credentials -------------------------------------------------------------------------------------


def _secret_deps(tmp_path: Path, wheelhouse: Path, secret: str) -> Path:
    deps = tmp_path / "deps.txt"
    deps.write_text(
        f"--index-url https://alice:{secret}@127.0.0.1:9/simple\n"
        f"--extra-index-url https://{secret}@127.0.0.1:9/extra\n"
        f"--find-links {wheelhouse}\n"
        "alpha-pkg\n"
    )
    return deps


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://alice:s3cret@host", "https://alice:****@host"),  # the text ends with the host
        ("https://ghp_token@host/simple", "https://****@host/simple"),  # a token given as the user
        (
            "git+ssh://git@github.com/o/r.git@v1 and https://u:p@h/x",
            "git+ssh://****@github.com/o/r.git@v1 and https://u:****@h/x",
        ),
        ("https://host/path@v1 and me@example.com", "https://host/path@v1 and me@example.com"),  # not credentials
        # lists (uv's UV_FIND_LINKS is comma-separated): every URL's credentials, not the first one's only
        ("https://u:p1@h1,https://u2:p2@h2/simple", "https://u:****@h1,https://u2:****@h2/simple"),
        ("https://u:p1@h1;https://tok@h2", "https://u:****@h1;https://****@h2"),
        ("https://tok@h1|http://b:c@h2:8080/x", "https://****@h1|http://b:****@h2:8080/x"),
        ("--find-links https://a:X@h1,https://b:Y@h2/x", "--find-links https://a:****@h1,https://b:****@h2/x"),
        ("https://u:p,w;x@h1,https://v:q@h2", "https://u:****@h1,https://v:****@h2"),  # separators in a password
        ("https://h1,https://u:p@h2", "https://h1,https://u:****@h2"),
    ],
)
def test_redact_hides_the_userinfo_of_each_url_and_nothing_else(text: str, shown: str) -> None:
    assert redact(text) == shown


_USERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)
_PASSWORDS = st.text(alphabet="0123456789!$&()*+,;=~:|-_.", min_size=0, max_size=12).map(lambda pw: f"SECRET{pw}")
_HOSTS = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z]{1,4})?(:[0-9]{1,5})?", fullmatch=True)
_PATHS = st.sampled_from(["", "/", "/simple", "/a/b?x=1", "#frag"])


@given(
    urls=st.lists(
        st.tuples(st.sampled_from(["http", "https", "git+https", "file"]), _USERS, _PASSWORDS, _HOSTS, _PATHS),
        min_size=1,
        max_size=5,
    ),
    separator=st.sampled_from([",", ";", "|", " ", ", "]),
    as_token=st.booleans(),
)
def test_redact_hides_every_url_of_a_list(
    urls: list[tuple[str, str, str, str, str]], separator: str, as_token: bool
) -> None:
    """However the URLs are separated, none of their passwords (or tokens given as the user) is left."""
    if as_token:  # a token as the user: `https://TOKEN@host` (no ":" in it, or it is user and password)
        text = separator.join(f"{scheme}://{pw.replace(':', '')}@{host}{path}" for scheme, _, pw, host, path in urls)
        shown = separator.join(f"{scheme}://****@{host}{path}" for scheme, _, _, host, path in urls)
    else:
        text = separator.join(f"{scheme}://{user}:{pw}@{host}{path}" for scheme, user, pw, host, path in urls)
        shown = separator.join(f"{scheme}://{user}:****@{host}{path}" for scheme, user, _, host, path in urls)
    assert redact(text) == shown


def test_credentials_in_urls_are_redacted_from_every_output_and_file(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    deps = _secret_deps(tmp_path, wheelhouse, SECRET)
    links = f"https://bob:{SECRET}@127.0.0.1:9/links"  # an argument's find-links URL (offline: never fetched)
    base = ["-r", str(deps), "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--find-links", links]
    direct = f"attrs @ https://alice:{SECRET}@127.0.0.1:9/attrs-23.1.0-py3-none-any.whl"
    shown = "attrs @ https://alice:****@127.0.0.1:9/attrs-23.1.0-py3-none-any.whl"
    # every output of a real process: what reaches its descriptors, whatever writes it
    outputs = [
        _cli("ensure", *base, process=True),
        _cli("ensure", *base, "--json", process=True),
        _cli("explain", *base, process=True),
        _cli("explain", *base, "--json", process=True),
        _cli("status", *base, "--json", process=True),
        _cli("list", "--json", process=True),
        _cli("stats", "--json", process=True),
        _cli("ensure", *base, "gamma-pkg", "--require-hit", process=True),  # a miss, meant for CI logs
        _cli("status", *base, "gamma-pkg", process=True),
        # uv fails offline on these two
        _cli("ensure", *base, f"pkg @ https://carol:{SECRET}@127.0.0.1:9/p.whl", process=True),
        _cli("ensure", *base, f"x @ https://{SECRET}@127.0.0.1:9/x-1.0-py3-none-any.whl", process=True),
        _cli("ensure", *base, "--json", f"bad req @ https://dave:{SECRET}@h/x", process=True),
        # a direct reference that is not installed: verify names it, explain and --store say it is not shared
        _cli("verify", *base, direct, process=True),
        _cli("verify", *base, direct, "--json", process=True),
        _cli("explain", *base, direct, process=True),
        _cli("ensure", *base, direct, "--store", str(tmp_path / "store"), process=True),
    ]
    # run: its command line (with a token) is stored in users/<pid>.json while it runs; show that file
    show = "import glob, sys; [sys.stdout.write(open(p).read()) for p in glob.glob(sys.argv[1] + '/users/*.json')]"
    entry = _entry(tmp_path, venv)
    ran = _cli("run", *base, "--", "python", "-c", show, str(entry), f"https://erin:{SECRET}@host/")
    outputs.append(ran)
    assert ran.returncode == 0, ran.stderr
    assert '"command"' in ran.stdout
    assert "https://erin:****@host/" in ran.stdout  # redacted, not dropped
    assert [p.returncode for p in outputs[:7]] == [0] * 7
    assert [p.returncode for p in outputs[7:9]] == [5, 1]
    assert "https://alice:****@127.0.0.1:9/simple" in outputs[2].stdout  # explain still says which index
    verified, verified_json, explained, stored = outputs[12:16]
    assert [verified.returncode, verified_json.returncode, explained.returncode] == [1, 1, 0]
    assert f"penvcache: verify: {shown} is not installed (run penvcache ensure)" in verified.stdout
    assert json.loads(verified_json.stdout)["not_installed"] == [shown]
    assert f"portable: none (never shared: {shown} is a direct reference" in explained.stdout
    assert f"store: not used: {shown} is a direct reference" in stored.stderr, stored.stderr
    for proc in outputs:
        assert SECRET not in proc.stdout + proc.stderr, proc.args
    leaked = [p for p in _cache(tmp_path).rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaked == []


def test_every_url_of_a_list_is_redacted_from_every_output_and_file(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    """uv's ``UV_FIND_LINKS`` is comma-separated: the second URL's password is hidden as the first's is, in
    ``explain`` (text and JSON), the state, a deps file's line and the command line ``run`` records."""
    first, second = "SECRETA-first", "SECRETB-second"
    pair = f"https://alice:{first}@127.0.0.1:9,https://bob:{second}@127.0.0.1:9/links"
    env = dict(os.environ, UV_FIND_LINKS=pair)
    deps = tmp_path / "deps.txt"
    deps.write_text(f"--find-links {wheelhouse}\nalpha-pkg\n")
    base = ["-r", str(deps), "--venv", str(venv), "--offline"]
    # a deps file's line holding such a list (uv reads it as one URL, and fails: only explain reads this one)
    listed = tmp_path / "listed.txt"
    listed.write_text(f"--find-links {wheelhouse}\n--find-links {pair}/x\nalpha-pkg\n")
    show = "import glob, sys; [sys.stdout.write(open(p).read()) for p in glob.glob(sys.argv[1] + '/users/*.json')]"
    outputs = [
        _cli("ensure", *base, env=env, process=True),
        _cli("explain", *base, env=env, process=True),
        _cli("explain", *base, "--json", env=env, process=True),
        _cli("run", *base, "--", "python", "-c", show, str(_entry(tmp_path, venv)), pair, env=env),
        _cli("explain", "-r", str(listed), "--venv", str(venv), "--offline", env=env, process=True),
    ]
    assert [p.returncode for p in outputs] == [0, 0, 0, 0, 0], [p.stderr for p in outputs]
    hidden = "https://alice:****@127.0.0.1:9,https://bob:****@127.0.0.1:9/links"
    assert f"UV_FIND_LINKS={hidden}" in outputs[1].stdout  # explain still says which find-links
    assert f"UV_FIND_LINKS={hidden}" in json.dumps(json.loads(outputs[2].stdout))
    assert hidden in outputs[3].stdout  # run's users/ file: the command line, redacted
    assert f"--find-links {hidden}/x" in outputs[4].stdout
    for proc in outputs:
        assert first not in proc.stdout + proc.stderr, proc.args
        assert second not in proc.stdout + proc.stderr, proc.args
    files = [p for p in _cache(tmp_path).rglob("*") if p.is_file()]
    assert _entry(tmp_path, venv) / _state.STATE in files
    assert [p for p in files if first.encode() in p.read_bytes() or second.encode() in p.read_bytes()] == []


def test_a_credential_a_deps_file_expands_leaves_no_digest_in_the_cache(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    """``${VAR}`` in a URL's password (or as its token) is not in the key (the URL is redacted): no digest of it is
    stored, which could be brute-forced from a cache dir shared as a CI cache. A variable holding a whole URL is
    digested with its credentials hidden. A variable that changes what is installed still is in the key."""
    import hashlib

    deps = tmp_path / "deps.txt"
    deps.write_text(
        "--extra-index-url https://alice:${IDXPW}@127.0.0.1:9/simple\n"
        "--extra-index-url https://${IDXTOKEN}@127.0.0.1:9/token\n"
        "--extra-index-url ${IDXURL}\n"
        f"--find-links {wheelhouse}\n"
        "alpha-pkg==${ALPHA_VERSION}\n"
    )
    secrets = {"IDXPW": "hunter2", "IDXTOKEN": "ghp_hunter3", "IDXURL": "https://bob:hunter4@127.0.0.1:9/url"}
    env = dict(os.environ, ALPHA_VERSION="1.0", **secrets)
    args = ["ensure", "-r", str(deps), "--venv", str(venv), "--offline"]
    first = _cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert "penvcache: installed" in first.stdout
    stored = b"".join(p.read_bytes() for p in _cache(tmp_path).rglob("*") if p.is_file())
    for value in [*secrets.values(), "hunter4"]:
        assert value.encode() not in stored
        assert hashlib.sha256(value.encode()).hexdigest().encode() not in stored, value
    rotated = {"IDXPW": "new-pw", "IDXTOKEN": "ghp_new", "IDXURL": "https://bob:new@127.0.0.1:9/url"}
    again = _cli(*args, env=dict(env, **rotated))
    assert "penvcache: hit" in again.stdout  # rotated credentials: the same sources
    moved = _cli(*args, env=dict(env, **rotated, ALPHA_VERSION="2.0"))
    assert "penvcache: installed" in moved.stdout, moved.stdout + moved.stderr  # another version: a miss


def test_rotating_a_token_is_not_a_miss(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """The key is built from the redacted URLs: a new password (or token) is the same index."""
    base = ["--venv", str(venv), "--offline"]
    first = _cli("ensure", "-r", str(_secret_deps(tmp_path, wheelhouse, SECRET)), *base)
    assert first.returncode == 0, first.stderr
    assert "penvcache: installed" in first.stdout
    second = _cli("ensure", "-r", str(_secret_deps(tmp_path, wheelhouse, "rotated-Tok3n")), *base)
    assert second.returncode == 0, second.stderr
    assert "penvcache: hit" in second.stdout
    links = ["alpha-pkg", "--find-links", str(wheelhouse), "--find-links"]
    assert _cli("ensure", *links, f"https://bob:{SECRET}@127.0.0.1:9/links", *base).returncode == 0
    rotated = _cli("ensure", *links, "https://bob:new-pass@127.0.0.1:9/links", *base)
    assert "penvcache: hit" in rotated.stdout
    moved = _cli("ensure", *links, "https://bob:new-pass@127.0.0.1:9/other", *base)
    assert "penvcache: adopted" in moved.stdout  # another URL is another source


def test_run_user_file_is_owner_only_and_gone_after_sigterm(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    ready = tmp_path / "ready"
    code = "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "penvcache",
            "run",
            *_args(venv, wheelhouse, "alpha-pkg"),
            "--",
            "python",
            "-c",
            code,
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_for(ready, proc)
        users = _entry(tmp_path, venv) / "users"
        (mine,) = users.iterdir()
        assert stat.S_IMODE(mine.stat().st_mode) == 0o600
        assert stat.S_IMODE(users.stat().st_mode) == 0o700
        proc.send_signal(signal.SIGTERM)  # run passes it on, waits for the command, then lets go of the venv
        proc.communicate(timeout=60)
        assert list(users.iterdir()) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def test_a_stale_user_file_is_ignored_and_removed(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """A `run` killed with -9 leaves its file; the next installer neither waits for it nor names it."""
    penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    users = _entry(tmp_path, venv) / "users"
    users.mkdir(mode=0o700, exist_ok=True)
    stale = users / f"{dead}-1.json"
    import socket

    stale.write_text(json.dumps({"pid": int(dead), "host": socket.gethostname(), "command": "x", "since": time.time()}))
    from penvcache._locking import users_of

    assert users_of(str(_entry(tmp_path, venv))) == "a process using it (it has not said who)"
    assert not stale.exists()
    assert penvcache.ensure(venv, ["gamma-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=5).status == (
        "installed"
    )


def test_credentials_never_reach_uvs_command_line(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """Another local user can read a process's arguments in /proc, not its environment nor an owner-only file:
    the indexes and find-links of a deps file reach uv in the requirements file it reads (as in
    ``uv pip install -r``), the arguments' in ``UV_DEFAULT_INDEX``/``UV_FIND_LINKS``, never in its argv."""
    from uv import find_uv_bin

    secret = "hunter2-argv"
    log = tmp_path / "uv-calls"
    wrapper = tmp_path / "uv-wrapper"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "argv %s\\n" "$*" >> {log}\n'
        f'printf "env %s|%s|%s\\n" "$UV_DEFAULT_INDEX" "$UV_EXTRA_INDEX_URL" "$UV_FIND_LINKS" >> {log}\n'
        'next=""\n'
        'for arg in "$@"; do\n'
        '  if [ "$next" = 1 ] && [ "${arg%.toml}" = "$arg" ]; then\n'
        f'    printf "file %s\\n" "$(stat -c %a "$(dirname "$arg")")" >> {log}; cat "$arg" >> {log}\n'
        "  fi\n"
        '  next=""; [ "$arg" = --requirement ] && next=1\n'
        "done\n"
        f'exec {find_uv_bin()} "$@"\n'
    )
    wrapper.chmod(0o755)
    deps = tmp_path / "deps.txt"
    deps.write_text(
        f"--index-url https://user:{secret}@127.0.0.1:9/simple\n"
        f"--extra-index-url https://user:{secret}-extra@127.0.0.1:9/extra\n"
        f"-f http://alice:{secret}-links@127.0.0.1:9/wheels/\n"
        "alpha-pkg\n"
    )
    cmd = [sys.executable, "-m", "penvcache", "ensure", "--venv", str(venv), "-r", str(deps), "--offline"]
    cmd += ["--find-links", str(wheelhouse), "--find-links", f"https://bob:{secret}-arg@127.0.0.1:9/links"]
    cmd += ["--index-url", f"https://carol:{secret}-index@127.0.0.1:9/simple"]
    env = dict(os.environ, PENVCACHE_UV=str(wrapper))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    installs = [i for i, line in enumerate(calls) if line.startswith("argv pip install")]
    assert installs, calls
    for i in installs:
        assert secret not in calls[i], calls[i]
        assert calls[i + 1] == (
            f"env https://carol:{secret}-index@127.0.0.1:9/simple||{wheelhouse},https://bob:{secret}-arg@127.0.0.1:9/links"
        )
        assert calls[i + 2 : i + 7] == [
            "file 700",
            f"--index-url https://user:{secret}@127.0.0.1:9/simple",
            f"--extra-index-url https://user:{secret}-extra@127.0.0.1:9/extra",
            f"--find-links http://alice:{secret}-links@127.0.0.1:9/wheels/",
            "alpha-pkg",
        ]
    assert [line for line in calls if line.startswith("argv") and secret in line] == []
    assert secret not in proc.stdout + proc.stderr
