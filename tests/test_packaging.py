"""Packaging: bounded dependency ranges, a lock that satisfies them and is what is installed, licence metadata, the Makefile's set-up."""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements.lock"
MAKE = shutil.which("make")


def declared() -> list[Requirement]:
    """Every runtime and test dependency pyproject.toml declares."""
    project = PYPROJECT["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def locked() -> dict[NormalizedName, Version]:
    """requirements.lock: one exact pin (name==version) a line, comments and blank lines aside."""
    pins: dict[NormalizedName, Version] = {}
    for number, line in enumerate(LOCK.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        req = Requirement(text)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==" and not req.marker and not req.extras, \
            f"requirements.lock:{number}: {line!r} is not one exact pin"
        name = canonicalize_name(req.name)
        assert name not in pins, f"requirements.lock:{number}: {req.name} is pinned twice"
        pins[name] = Version(specs[0].version)
    return pins


def closure(roots: list[Requirement]) -> dict[NormalizedName, Version]:
    """The installed distributions ``roots`` need, transitively (extras and markers evaluated), with their versions."""
    out: dict[NormalizedName, Version] = {}
    extras_done: dict[NormalizedName, set[str]] = {}
    stack: list[tuple[Requirement, set[str]]] = [(r, {""}) for r in roots]
    while stack:
        req, extras = stack.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras):
            continue
        name = canonicalize_name(req.name)
        wanted = set(req.extras) | {""}
        if name in extras_done and wanted <= extras_done[name]:
            continue
        extras_done.setdefault(name, set()).update(wanted)
        dist = md.distribution(req.name)
        out[name] = Version(dist.version)
        stack.extend((Requirement(r), extras_done[name]) for r in dist.requires or [])
    return out


# ------------------------------------------------------------------ ranges and the lock
def test_every_dependency_has_an_upper_bound() -> None:
    unbounded = [str(r) for r in declared() if not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)]
    assert not unbounded, f"no upper bound: {unbounded}"


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    pins = locked()
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared in pyproject.toml but not in requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"the lock's {req.name}=={pins[name]} is outside {req}"


def test_the_lock_is_exactly_what_is_installed() -> None:
    """The tests run on the locked versions: every package the project needs is locked at its installed version, and
    the lock holds nothing else (but pip, which `make` installs from it first)."""
    pins = locked()
    needed = closure(declared())
    wrong = {n: (str(v), str(pins.get(n))) for n, v in needed.items() if pins.get(n) != v}
    assert not wrong, f"installed vs locked: {wrong}"
    extra = set(pins) - set(needed) - {canonicalize_name("pip")}
    assert not extra, f"locked but not needed by smnpc-kg[test]: {sorted(extra)}"
    assert Version(md.version("pip")) == pins[canonicalize_name("pip")]


# ------------------------------------------------------------------ licence
def test_the_licence_is_an_spdx_expression_with_its_file() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"  # PEP 639: a string, not the deprecated {text = ...} table
    files = project["license-files"]
    assert files and all((ROOT / f).is_file() for f in files)
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))  # PEP 639 forbids both
    backend = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    setuptools = next(r for r in backend if canonicalize_name(r.name) == "setuptools")
    assert not setuptools.specifier.contains("76.1.0"), "setuptools before 77 does not read a licence expression"
    assert any(s.operator in ("<", "<=") for s in setuptools.specifier)


# ------------------------------------------------------------------ the repository
def test_no_build_output_is_tracked() -> None:
    """`dist` is a link to a build made on this machine: tracked, it dangles on a fresh clone."""
    proc = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--", "dist", ".dist.builds"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert [p for p in proc.stdout.split("\0") if p] == []
    for path in ("dist", ".dist.builds/0123456789abcdef/smnpc-kg.nt"):
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "-q", path], timeout=60)
        assert ignored.returncode == 0, f".gitignore must keep {path} out"


# ------------------------------------------------------------------ the Makefile, run against stand-in programs
@pytest.fixture()
def fake(tmp_path: Path) -> Path:
    """An empty folder to hold the stand-in programs; the Makefile runs with it as its whole PATH."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "calls").write_text("", encoding="utf-8")
    return tmp_path


def program(fake: Path, name: str, script: str = "exit 0") -> None:
    """A stand-in ``name`` that records how it was called (one argument a line, then a blank line) and runs ``script``."""
    path = fake / "bin" / name
    path.write_text(f'#!/bin/sh\n{{ echo "{name}"; for a in "$@"; do echo "$a"; done; echo; }} >> "{fake}/calls"\n{script}\n',
                    encoding="utf-8")
    path.chmod(0o755)


def calls(fake: Path) -> list[list[str]]:
    """The recorded calls, each as [program, arg, ...]."""
    return [block.splitlines() for block in (fake / "calls").read_text(encoding="utf-8").split("\n\n") if block.strip()]


def make(fake: Path, *args: str, uid: int = 1000) -> subprocess.CompletedProcess[str]:
    assert MAKE is not None, "make is not installed"
    program(fake, "id", f"echo {uid}")
    stamp = fake / "stamp"  # an up-to-date stand-in for the venv stamp: nothing is installed
    stamp.touch()
    os.utime(stamp, (2**31 - 1, 2**31 - 1))
    env = {"PATH": str(fake / "bin"), "HOME": str(fake), "LC_ALL": "C"}
    return subprocess.run([MAKE, "-s", "-C", str(ROOT), f"STAMP={stamp}", f"BIN={fake / 'bin'}", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def ours(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """What the recipes printed, without make's own "make: *** ..." report of a failed target."""
    return [line for line in (proc.stdout + proc.stderr).splitlines() if not line.startswith(("make: ***", "make[", "make: Leaving",
                                                                                               "make: Entering"))]


BUILD_SET = ("java", "dot")
TEST_SET = ("virtuoso-t", "isql-vt", "chromium", "chromedriver")
STOPPERS = ("pkill", "killall", "kill", "service", "systemctl", "invoke-rc.d", "apt-get", "sudo")


def test_make_never_stops_a_service_or_process_it_did_not_start(fake: Path) -> None:
    for name in (*BUILD_SET, *TEST_SET, *STOPPERS):
        program(fake, name)
    program(fake, "pgrep", "echo 4242")  # a Virtuoso started by its package is running
    proc = make(fake, "system")
    assert proc.returncode == 0, ours(proc)
    assert [c[0] for c in calls(fake) if c[0] != "id"] == [], calls(fake)


def test_make_build_needs_no_root_and_no_test_programs_when_java_and_dot_are_there(fake: Path) -> None:
    for name in (*BUILD_SET, "apt-get", "smnpc-kg"):
        program(fake, name)
    proc = make(fake, "build")
    assert proc.returncode == 0, ours(proc)
    assert [c for c in calls(fake) if c[0] != "id"] == [["smnpc-kg", "build"]]


def test_a_missing_program_without_root_is_one_clear_line(fake: Path) -> None:
    program(fake, "java")
    program(fake, "apt-get")
    proc = make(fake, "system-build")
    assert proc.returncode != 0
    lines = ours(proc)
    assert len(lines) == 1 and "graphviz" in lines[0] and "root" in lines[0] and "default-jre" not in lines[0], lines
    assert "apt-get" not in [c[0] for c in calls(fake)]


def test_as_root_the_missing_packages_are_installed_with_apt_get(fake: Path) -> None:
    program(fake, "java")
    program(fake, "apt-get")
    proc = make(fake, "system-build", uid=0)
    assert proc.returncode == 0, ours(proc)
    installs = [c for c in calls(fake) if c[:2] == ["apt-get", "install"]]
    assert len(installs) == 1 and "graphviz" in installs[0] and "default-jre-headless" not in installs[0]


def test_the_test_programs_are_named_once_each(fake: Path) -> None:
    proc = make(fake, "system-test")
    assert proc.returncode != 0
    (line,) = ours(proc)
    assert line.count("virtuoso-opensource") == 2  # once in the list, once in the apt-get command it suggests
    assert "chromium-driver" in line


def test_make_check_runs_lint_types_and_the_fast_tests_only(fake: Path) -> None:
    for name in (*BUILD_SET, "ruff", "mypy", "pytest"):
        program(fake, name)
    proc = make(fake, "check")
    assert proc.returncode == 0, ours(proc)
    ran = [c for c in calls(fake) if c[0] != "id"]
    assert [c[0] for c in ran] == ["ruff", "mypy", "pytest"]
    pytest_args = ran[2][1:]
    assert pytest_args == ["-m", "not integration and not browser and not slow"]
    registered = {m.split(":", 1)[0] for m in PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]}
    assert {"integration", "browser", "slow"} <= registered
