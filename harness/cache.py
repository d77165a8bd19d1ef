"""The project cache folder: build products and oracle results a warm run reuses, no verdict.

``.cache/`` under the working directory by default; ``HARNESS_CACHE_DIR=PATH`` moves it and
``HARNESS_CACHE_DIR=off`` turns every cache off. It holds JAX's persistent compilation cache
(``jax/``, keyed by JAX on the program itself) and the harness's own entries (``harness/``):
compiled JAX programs of the registry's cases, the oracles' results on them (harness.memo) and
the report's figures, keyed by a digest of the harness's source files, so that editing any of
them starts afresh. It holds compiled code:
share it only with whom you would share the checkout. Every read and write is best effort: a
missing, unreadable or full folder costs time, never a cell.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import shutil
import tempfile
from pathlib import Path

ENV = "HARNESS_CACHE_DIR"
DEFAULT = ".cache"
OFF = ("off", "0", "none", "")
#: harness entries of this many source digests are kept (the newest by modification time)
KEEP = 3
_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def root() -> Path | None:
    """The cache folder, absolute (resolved once per process), or None when turned off."""
    where = os.environ.get(ENV, DEFAULT)
    if where.strip().lower() in OFF:
        return None
    return Path(where).expanduser().resolve()


@functools.cache
def source_digest() -> str:
    """A digest of every source file of the harness package (its code and its data)."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".css") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:20]


def in_package(path: str | None) -> bool:
    """Whether a source file belongs to the harness package (so the digest covers it)."""
    return path is not None and Path(path).resolve().is_relative_to(_PACKAGE)


def defined_in_package(obj: object) -> bool:
    """Whether a function or class is defined in a source file of the harness package."""
    try:
        return in_package(inspect.getsourcefile(obj))  # type: ignore[arg-type]
    except TypeError:
        return False


def key(*parts: object) -> str:
    """A file name for an entry from the reprs of what it depends on."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _folder(kind: str) -> Path | None:
    base = root()
    return None if base is None else base / "harness" / source_digest() / kind


def read(kind: str, name: str) -> bytes | None:
    """The entry `name` of `kind` under this source digest, or None."""
    folder = _folder(kind)
    if folder is None:
        return None
    try:
        return (folder / name).read_bytes()
    except OSError:
        return None


def write(kind: str, name: str, data: bytes) -> None:
    """Store an entry atomically (a temporary file renamed), pruning old digests first."""
    folder = _folder(kind)
    if folder is None:
        return
    try:
        if not folder.parent.exists():
            _prune(folder.parent.parent)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, folder / name)
    except OSError:
        return


def _prune(harness_dir: Path) -> None:
    """Keep the entries of the KEEP - 1 newest other digests: a new one is about to start."""
    try:
        old = sorted(harness_dir.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for path in old[KEEP - 1 :]:
        shutil.rmtree(path, ignore_errors=True)


def jax_compilation_cache() -> str | None:
    """The folder for JAX's persistent compilation cache, unless the user chose one."""
    base = root()
    if base is None or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    return str(base / "jax")
