"""arrays.npz: a shard's per-element error arrays (heatmaps, Taylor plots), so that `merge` can
draw the figures of the cells it did not compute."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from harness.errors import UsageError
from harness.results import ArrayKey

ARRAYS_FILE = "arrays.npz"


def arrays_npz(arrays: Mapping[ArrayKey, np.ndarray]) -> bytes:
    """The content of ARRAYS_FILE for `arrays` (keys joined with ``|``)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{"|".join(k): np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def save_arrays(arrays: Mapping[ArrayKey, np.ndarray], out: Path) -> Path:
    """Write `arrays` to ARRAYS_FILE in `out` (outside a report set: its tests and tools)."""
    path = Path(out) / ARRAYS_FILE
    path.write_bytes(arrays_npz(arrays))
    return path


def load_arrays(folder: Path) -> dict[tuple[str, ...], np.ndarray]:
    """The arrays of ARRAYS_FILE in `folder`; none when there is no such file; a UsageError
    naming the file when it cannot be read."""
    path = Path(folder) / ARRAYS_FILE
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            return {tuple(k.split("|")): z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UsageError(f"cannot read {path}: {e}; rerun that shard") from None
