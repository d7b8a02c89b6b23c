"""Publishing a build and writing exports: nothing that smnpc-kg did not write is deleted, moved or overwritten."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smnpc_kg.core.errors import DistError
from smnpc_kg.kg.build import Counts, Project
from smnpc_kg.kg.dist import DIST_FILES, MANIFEST, builds_folder, publish, verify

ROOT = Path(__file__).resolve().parent.parent
Tree = dict[str, tuple[str, bytes | str | None]]


def snapshot(top: Path) -> Tree:
    """Every folder, file (with its bytes) and link (with its target) under ``top``, links not followed."""
    tree: Tree = {}
    for folder, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            rel = str(path.relative_to(top))
            if path.is_symlink():
                tree[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                tree[rel] = ("dir", None)
            else:
                tree[rel] = ("file", path.read_bytes())
    return tree


def run_cli(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *names: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in err and "\n" not in err and err.startswith("error: "), err
    for name in names:
        assert name in err, (name, err)


def outputs(tag: str, size: int = 200) -> dict[str, bytes]:
    """Small stand-ins for the three build files (publishing checks digests, not RDF)."""
    return {name: f'<urn:x:{tag}> <urn:x:file> "{name}" .\n'.encode() * size for name in DIST_FILES}


def flip_a_byte(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.seek(10)
        byte = fh.read(1)
        fh.seek(10)
        fh.write(bytes([byte[0] ^ 1]))


# ------------------------------------------------------------------ build --out: only a new path, an empty folder or a build
def _non_empty_folder(area: Path) -> Path:
    (area / "X" / "sub").mkdir(parents=True)
    (area / "X" / "sub" / "f").write_text("precious\n")
    (area / "X" / "notes.txt").write_text("mine\n")
    return area / "X"


def _a_file(area: Path) -> Path:
    (area / "F").write_text("precious\n")
    return area / "F"


def _plain_copy_of_a_build(area: Path, name: str) -> Path:
    """A plain folder holding a build's files (the layout before dist became a link), built at ``area``/B."""
    publish(outputs("a"), {"triples": 1}, area / "B")
    plain = area / name
    plain.mkdir()
    for item in (area / "B").iterdir():
        (plain / item.name).write_bytes(item.read_bytes())
    return plain


def _folder_with_a_manifest_and_a_subfolder(area: Path) -> Path:
    plain = _plain_copy_of_a_build(area, "P")
    (plain / "mine").mkdir()
    (plain / "mine" / "f").write_text("precious\n")
    return plain


def _a_foreign_link(area: Path) -> Path:
    (area / "T").mkdir()
    (area / "T" / "f").write_text("precious\n")
    (area / "L").symlink_to("T")
    return area / "L"


def _a_link_into_a_build(area: Path) -> Path:
    publish(outputs("a"), {"triples": 1}, area / "D")
    return area / "D" / "sub"


def _inside_the_builds_folder(area: Path) -> Path:
    publish(outputs("a"), {"triples": 1}, area / "D")
    return builds_folder(area / "D") / "x"


@pytest.mark.parametrize("make", [_non_empty_folder, _a_file, _folder_with_a_manifest_and_a_subfolder, _a_foreign_link,
                                  _a_link_into_a_build, _inside_the_builds_folder], ids=lambda f: f.__name__.strip("_"))
def test_build_out_refuses_what_it_did_not_make(scratch_project: Project, make: Callable[[Path], Path]) -> None:
    area = scratch_project.root / "area"
    area.mkdir()
    out = make(area)
    before = snapshot(area)
    proc = run_cli(scratch_project.root, "build", "--no-reason", "--out", str(out))
    assert_one_line_error(proc, str(out))
    assert snapshot(area) == before  # nothing deleted, moved, added or changed


def test_build_out_dot_is_refused_even_when_the_folder_is_empty(scratch_project: Project) -> None:
    for folder in ("full", "empty"):
        cwd = scratch_project.root / "area" / folder
        cwd.mkdir(parents=True)
        if folder == "full":
            (cwd / "f").write_text("precious\n")
        before = snapshot(cwd.parent)
        proc = run_cli(scratch_project.root, "build", "--no-reason", "--out", ".", cwd=cwd)
        assert_one_line_error(proc)
        assert snapshot(cwd.parent) == before, folder


def test_build_out_refuses_the_project_and_what_contains_it(scratch_project: Project) -> None:
    root = scratch_project.root
    before = snapshot(root)
    for out in (root, root.parent):
        proc = run_cli(root, "build", "--no-reason", "--out", str(out))
        assert_one_line_error(proc, str(out))
        assert not (out.parent / f".{out.name}.builds").exists()
    assert snapshot(root) == before


def test_build_out_is_checked_before_the_build_runs(scratch_project: Project) -> None:
    """The refusal comes first: a broken evidence file is not even read."""
    (scratch_project.root / "evidence" / "zz-broken.ttl").write_text("this is not turtle [\n")
    out = _non_empty_folder(scratch_project.root)
    proc = run_cli(scratch_project.root, "build", "--no-reason", "--out", str(out))
    assert_one_line_error(proc, str(out))
    assert "zz-broken" not in proc.stderr


def test_build_out_accepts_a_new_path_an_empty_folder_and_its_own_builds(tmp_path: Path) -> None:
    new = tmp_path / "new" / "kg"
    publish(outputs("a"), {"triples": 1}, new)
    assert new.is_symlink() and verify(new)
    empty = tmp_path / "empty"
    empty.mkdir()
    publish(outputs("a"), {"triples": 1}, empty)
    assert empty.is_symlink() and verify(empty)
    assert sorted(p.name for p in builds_folder(empty).iterdir() if not p.name.startswith(".")) == [empty.resolve().name]
    # its own link, also dangling (as on a fresh clone of a repository that tracked the link)
    publish(outputs("b"), {"triples": 2}, new)
    target = new.resolve()
    new.unlink()
    new.symlink_to(os.path.relpath(builds_folder(new) / "0123456789abcdef", new.parent))
    publish(outputs("b"), {"triples": 2}, new)
    assert new.resolve() == target and verify(new)


def test_an_older_plain_build_folder_is_kept_aside_and_its_extra_files_carried_over(tmp_path: Path) -> None:
    plain = _plain_copy_of_a_build(tmp_path, "dist")
    (plain / "pathway-p04.svg").write_text("<svg/>")
    publish(outputs("b"), {"triples": 2}, plain)
    assert plain.is_symlink() and verify(plain)["counts"] == {"triples": 2}
    assert (plain / "pathway-p04.svg").read_text() == "<svg/>"


def test_a_broken_out_path_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DistError, match="not a folder"):
        publish(outputs("a"), {"triples": 1}, tmp_path / "file" / "dist")
    assert (tmp_path / "file").read_text() == "x"


# ------------------------------------------------------------------ several processes publishing at once
PUBLISHER = """
import sys, time
from pathlib import Path
from smnpc_kg.kg.dist import DIST_FILES, publish
from smnpc_kg.core.errors import SmnpcError
dist, who, rounds, start, mode = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
while time.time() < start:
    time.sleep(0.001)
for r in range(rounds):
    same = mode == "same" or (mode == "mixed" and r % 2 == 0)
    tag = "same" if same else f"{who}-{r}"
    outputs = {name: f'<urn:x:{tag}> <urn:x:file> "{name}" .\\n'.encode() * 200 for name in DIST_FILES}
    if mode != "distinct":  # someone damages the current build, and the publish must repair it
        try:
            with open(dist / "smnpc-kg.nt", "r+b") as fh:
                fh.seek(10); b = fh.read(1); fh.seek(10); fh.write(bytes([b[0] ^ 1]))
        except OSError:
            pass
    try:
        publish(outputs, {"triples": 1} if same else {"triples": 1, "who": who, "round": r}, dist)
        print("ok", flush=True)
    except SmnpcError as exc:
        print(f"error: {exc}", flush=True)
"""


def publish_at_once(dist: Path, processes: int, rounds: int, mode: str) -> tuple[list[str], list[str], int]:
    start = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", PUBLISHER, str(dist), str(i), str(rounds), str(start), mode],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(processes)]
    dangling = 0
    done = threading.Event()

    def watch() -> None:  # the link must always lead to a build
        nonlocal dangling
        while not done.is_set():
            if not dist.exists():
                dangling += 1
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    lines, errors = [], []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            lines += out.splitlines()
            errors.append(err)
    finally:
        done.set()
        watcher.join()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return lines, errors, dangling


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["distinct", "same", "mixed"])
def test_concurrent_publishes_never_leave_dist_dangling(tmp_path: Path, mode: str) -> None:
    dist = tmp_path / "dist"
    publish(outputs("same"), {"triples": 1}, dist)
    (dist / "pathway-p04.svg").write_text("<svg/>")  # a file someone put into dist/: carried over, repaired or not
    lines, errors, dangling = publish_at_once(dist, processes=3, rounds=8, mode=mode)
    assert all("Traceback" not in e for e in errors), errors
    assert all(line == "ok" or (line.startswith("error: ") and "\n" not in line) for line in lines), lines
    assert len(lines) == 3 * 8
    assert lines.count("ok") == len(lines), lines  # the lock serialises them: none has a reason to fail
    assert dangling == 0
    verify(dist)
    assert (dist / "pathway-p04.svg").read_text() == "<svg/>"
    builds = builds_folder(dist)
    assert not [p.name for p in builds.iterdir() if ".partial-" in p.name or p.name.startswith(".link-")]
    assert len([p for p in builds.iterdir() if p.is_dir()]) <= 2


def test_a_publish_waits_for_the_lock_a_bounded_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    from smnpc_kg.kg import dist as dist_module

    dist = tmp_path / "dist"
    publish(outputs("a"), {"triples": 1}, dist)
    before = snapshot(tmp_path)
    monkeypatch.setattr(dist_module, "LOCK_WAIT_S", 0.5)
    with open(builds_folder(dist) / ".lock", "rb") as lock:  # another build is publishing (and does not finish)
        fcntl.flock(lock, fcntl.LOCK_EX)
        start = time.monotonic()
        with pytest.raises(DistError, match="another build has been publishing here"):
            publish(outputs("b"), {"triples": 2}, dist)
        assert time.monotonic() - start < 5
    assert snapshot(tmp_path) == before
    publish(outputs("b"), {"triples": 2}, dist)  # once it is released
    assert verify(dist)["counts"] == {"triples": 2}


@pytest.mark.slow
def test_concurrent_cli_builds_on_a_damaged_build(scratch_project: Project) -> None:
    root = scratch_project.root
    assert run_cli(root, "build", "--no-reason").returncode == 0
    dist = scratch_project.dist
    (dist / "pathway-p04.svg").write_text("<svg/>")
    flip_a_byte(dist / "smnpc-kg.nt")
    procs = [subprocess.Popen([sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), "build", "--no-reason"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0 and out.startswith("built ") and not err, (code, out, err)
    verify(dist)
    assert (dist / "pathway-p04.svg").read_text() == "<svg/>"


# ------------------------------------------------------------------ repair and prune
@pytest.mark.parametrize("damage", ["flip", "remove-file", "remove-manifest"])
def test_repairing_a_damaged_build_keeps_the_files_carried_into_it(tmp_path: Path, damage: str) -> None:
    dist = tmp_path / "dist"
    publish(outputs("a"), {"triples": 1}, dist)
    (dist / "pathway-p04.svg").write_text("<svg/>")
    (dist / "forest-table-2.png").write_bytes(b"\x89PNG...")
    target = dist.resolve()
    if damage == "flip":
        flip_a_byte(dist / "smnpc-kg.nt")
    else:
        (dist / ("smnpc-kg.ttl" if damage == "remove-file" else MANIFEST)).unlink()
    with pytest.raises(DistError):
        verify(dist)
    publish(outputs("a"), {"triples": 1}, dist)
    verify(dist)
    assert dist.resolve() == target
    assert (dist / "pathway-p04.svg").read_text() == "<svg/>"
    assert (dist / "forest-table-2.png").read_bytes() == b"\x89PNG..."


def test_prune_keeps_the_current_and_previous_builds_and_only_removes_its_own(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    builds = builds_folder(dist)
    made = [publish(outputs("a"), {"triples": 1}, dist)]
    (builds / "notes").mkdir()
    (builds / "notes" / "f").write_text("precious\n")
    (builds / "readme.txt").write_text("precious\n")
    (builds / "fedcba9876543210").mkdir()  # named like a build, but not one: it holds a folder of someone's
    (builds / "fedcba9876543210" / "mine").mkdir()
    (builds / "fedcba9876543210" / "mine" / "f").write_text("precious\n")
    mine = {k: v for k, v in snapshot(builds).items() if k.startswith(("notes", "readme", "fedcba"))}
    for i in range(2, 6):
        made.append(publish(outputs(str(i)), {"triples": i}, dist))
        assert dist.resolve() == made[-1] and made[-2].is_dir()  # the current one and the one before
    assert not any(m.exists() for m in made[:-2])
    assert {k: v for k, v in snapshot(builds).items() if k.startswith(("notes", "readme", "fedcba"))} == mine
    # a repair of the current build keeps the one before it
    flip_a_byte(dist / "smnpc-kg.nt")
    publish(outputs("5"), {"triples": 5}, dist)
    assert made[-2].is_dir() and dist.resolve() == made[-1]


def test_verify_reads_one_build_while_the_link_moves(tmp_path: Path) -> None:
    """A reader never mixes the manifest of one build with the files of another."""
    dist = tmp_path / "dist"
    publish(outputs("a", 5000), {"triples": 1}, dist)
    stop = threading.Event()
    failures: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                verify(dist)
            except DistError as exc:
                failures.append(str(exc))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for i in range(30):
            publish(outputs(str(i % 2), 5000), {"triples": i % 2}, dist)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert failures == []


# ------------------------------------------------------------------ exports
@pytest.mark.slow
def test_owl_export_is_byte_identical_across_hash_seeds(served_root: Path, tmp_path: Path) -> None:
    digests = set()
    for seed in ("1", "2", "3"):
        out = tmp_path / f"kg-{seed}.owl"
        proc = subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(served_root), "export", "--format", "owl",
                               "--out", str(out)], capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed},
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def _writers(out: str) -> dict[str, list[str]]:
    patient = str(ROOT / "examples" / "patients" / "p04-bone-widespread-high-risk.json")
    return {"export-jsonld": ["export", "--format", "jsonld", "--out", out], "export-owl": ["export", "--format", "owl", "--out", out],
            "pathway": ["pathway", "--svg", out, "--patient", patient], "plot": ["plot", "forest", out],
            "docs": ["docs", "--out", out], "mappings": ["mappings", "--out", out]}


@pytest.mark.parametrize("command", sorted(_writers("x")))
def test_writers_refuse_a_directory_before_writing_anything(served_root: Path, tmp_path: Path, command: str) -> None:
    area = tmp_path / "area"
    (area / "DIR").mkdir(parents=True)
    (area / "DIR" / "f").write_text("precious\n")
    (area / "context.jsonld").write_text("mine\n")  # what `export --format jsonld` writes beside its output
    before = snapshot(area)
    assert_one_line_error(run_cli(served_root, *_writers(str(area / "DIR"))[command]), str(area / "DIR"))
    assert snapshot(area) == before


@pytest.mark.parametrize("command", sorted(_writers("x")))
def test_writers_refuse_paths_inside_a_build(served_root: Path, command: str) -> None:
    build = (served_root / "dist").resolve()
    before = snapshot(build)
    for out in (served_root / "dist" / "new-file", build / "new-file", build / "smnpc-kg.ttl"):
        assert_one_line_error(run_cli(served_root, *_writers(str(out))[command]), str(out))
    assert snapshot(build) == before


@pytest.mark.parametrize("where", ["parent-is-a-file", "unwritable", "a-fifo"])
@pytest.mark.parametrize("command", sorted(_writers("x")))
def test_writers_refuse_an_unusable_path_in_one_line(served_root: Path, tmp_path: Path, where: str, command: str) -> None:
    """Never a device or a FIFO (tested with a FIFO of its own: the old code replaced what it was given by a file)."""
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    out = {"parent-is-a-file": tmp_path / "file" / "kg.png", "unwritable": Path("/sys/kg.png"), "a-fifo": tmp_path / "fifo"}[where]
    assert_one_line_error(run_cli(served_root, *_writers(str(out))[command]), str(out))
    assert (tmp_path / "file").read_text() == "x" and (tmp_path / "fifo").is_fifo()
    assert not list(Path("/sys").glob(".kg.png*"))


def test_jsonld_export_refuses_to_overwrite_its_own_context(served_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "context.jsonld"
    assert_one_line_error(run_cli(served_root, "export", "--format", "jsonld", "--out", str(out)), str(out))
    assert not out.exists()


def test_export_writes_atomically_and_follows_a_link(served_root: Path, built: tuple[Path, Counts], tmp_path: Path) -> None:
    (tmp_path / "real.ttl").write_text("old\n")
    (tmp_path / "link.ttl").symlink_to("real.ttl")
    proc = run_cli(served_root, "export", "--format", "ttl", "--out", str(tmp_path / "link.ttl"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "link.ttl").is_symlink()
    assert (tmp_path / "real.ttl").read_bytes() == (built[0] / "smnpc-kg.ttl").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.ttl", "real.ttl"]  # no temporary file left
