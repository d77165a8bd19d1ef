"""Writing a set of files into a folder whole: staged first, then moved into place at once.

Every file is written (and flushed to disk) into a hidden staging folder inside the target
folder, so on the same file system: a full disk or any other write error stops there, the stage
is removed and the folder keeps its previous set untouched. Only then, holding a lock on the
folder (two runs on one folder commit one after the other, never interleaved), are the files
renamed into place — renames need no space and take microseconds — data files first and the
last file (metadata.json) last. A writer killed in that instant leaves its stage with a commit
record: the next writer of the folder, or a `merge` reading it, finishes those renames first.

The folder, not a copy of it, is the unit swapped, because a report folder holds other things
too (``reports/baseline/``, ``reports/bench/``): those are never moved or rewritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from harness.errors import UsageError

try:  # POSIX; elsewhere the folder is not locked (two runs on one folder may then interleave)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: Hidden folders inside the target folder, one per writer that has not committed yet.
STAGE_PREFIX = ".harness-stage-"
#: Written into a stage after every file of the set: its presence means "ready to rename".
COMMIT_FILE = ".commit.json"


class WriteError(UsageError):
    """A set of files could not be written: one sentence naming the file, the folder and why."""


def write_files(
    out: Path, files: Mapping[str, str | bytes], supersedes: Iterable[str] = ()
) -> list[Path]:
    """Write `files` (name -> content) into the folder `out` as one set and return their paths.

    Names in `supersedes` that `files` lacks belong to an earlier set and are removed when this
    one is committed (a shard's arrays.npz under a later unsharded run). WriteError when
    anything cannot be written; the folder then holds what it held before."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with _locked(out):  # a stage is created and locked under the folder's lock: a sweep
            stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=out))  # never sees it bare
            stage_lock = _lock_fd(stage)
    except OSError as e:
        raise WriteError(f"cannot write reports to {out}: {_why(e)}") from None
    try:
        name = ""
        try:
            for name, data in files.items():
                _write(stage / name, data)
            name = COMMIT_FILE
            removed = [n for n in supersedes if n not in files]
            _write(stage / COMMIT_FILE, json.dumps({"files": list(files), "remove": removed}))
            _fsync_dir(stage)
        except BaseException as e:
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(e, OSError):
                raise WriteError(
                    f"cannot write {name} to {out}: {_why(e)}; the reports there are unchanged"
                ) from None
            raise
        with _locked(out):
            finish_pending(out, [*files, *supersedes], skip=stage)
            _commit(out, stage)
    finally:
        os.close(stage_lock)
    return [out / n for n in files]


def finish_pending(out: Path, names: Iterable[str] = (), skip: Path | None = None) -> None:
    """Complete the commits of writers of `out` that died while renaming (their stage holds a
    commit record), remove the stages of writers that died before, and the temporary files
    that earlier versions left for `names` (``.summary.csv.*.tmp``). Stages of live writers
    are left alone."""
    out = Path(out)
    for stage in sorted(out.glob(f"{STAGE_PREFIX}*"), key=_mtime):
        if stage == skip or not stage.is_dir():
            continue
        with _locked(stage, wait=False) as free:
            if not free:
                continue  # its writer is alive
            if (stage / COMMIT_FILE).exists():
                _commit(out, stage)
            else:
                shutil.rmtree(stage, ignore_errors=True)
    for name in names:
        for debris in out.glob(f".{name}.*.tmp"):
            debris.unlink(missing_ok=True)


def pending(out: Path) -> bool:
    """Whether `out` holds a stage with a commit record whose writer died mid-commit."""
    for stage in Path(out).glob(f"{STAGE_PREFIX}*"):
        if (stage / COMMIT_FILE).exists():
            with _locked(stage, wait=False) as free:
                if free:
                    return True
    return False


def _commit(out: Path, stage: Path) -> None:
    """Rename the staged files into `out` in their order, drop the superseded ones, remove the
    stage. Idempotent: files already renamed by a writer that died are simply not there."""
    record = json.loads((stage / COMMIT_FILE).read_text(encoding="utf-8"))
    for name in record["files"]:
        if (stage / name).exists():
            os.replace(stage / name, out / name)
    for name in record["remove"]:
        (out / name).unlink(missing_ok=True)
    _fsync_dir(out)
    shutil.rmtree(stage, ignore_errors=True)


def _write(path: Path, data: str | bytes) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with open(path, "wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o666 & ~_umask())  # reports are for everyone, as a plain open() makes them


def _lock_fd(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@contextlib.contextmanager
def _locked(path: Path, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock on the folder `path` for the block (released if the process dies);
    with wait=False, yields False at once when another process holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False  # removed meanwhile: nothing to lock
        return
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
        yield True
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs folders
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
