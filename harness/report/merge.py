"""Joining the report folders of shard runs (`python -m harness merge`) into the set one
unsharded run writes: summary.csv and elements.csv byte-identical, metadata.json and
report.html rebuilt. A shard also keeps its per-element arrays (arrays.npz) for the heatmaps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import UsageError
from harness.report.files import atomic_write
from harness.report.html import write_html
from harness.report.metadata import METADATA_FILE, merged_metadata, metadata_json
from harness.results import ArrayKey, in_report_order

#: Per-element error arrays of a shard (heatmaps), so that merge can draw them too.
ARRAYS_FILE = "arrays.npz"
#: What the shards of one run share; shards that differ in any of these are refused.
SHARED_KEYS: tuple[str, ...] = ("seed", "backends", "dtypes", "quantities", "cotangent")


def save_arrays(arrays: Mapping[ArrayKey, np.ndarray], out: Path) -> Path:
    """The per-element arrays of a run (heatmaps), for merge to draw them."""
    path = Path(out) / ARRAYS_FILE
    np.savez_compressed(path, **{"|".join(k): np.asarray(v) for k, v in arrays.items()})
    return path


def load_arrays(folder: Path) -> dict[tuple[str, ...], np.ndarray]:
    """The arrays save_arrays wrote in `folder`; none when it holds no ARRAYS_FILE."""
    path = Path(folder) / ARRAYS_FILE
    if not path.exists():
        return {}
    with np.load(path) as z:
        return {tuple(k.split("|")): z[k] for k in z.files}


def merge_tables(frames: Iterable[pd.DataFrame], backend_order: Sequence[str]) -> pd.DataFrame:
    """Rows of several shards' CSVs, as text, in the order one run writes them."""
    return in_report_order(pd.concat(list(frames), ignore_index=True), backend_order)


def _read_text_csv(path: Path) -> pd.DataFrame:
    # Every field as the exact text a run wrote: the merged file repeats it byte for byte.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _read_numeric_csv(path: Path) -> pd.DataFrame:
    # For the HTML: numbers parsed, an empty field missing (as in a run's own frame), any other
    # text as written (a case named "NA" stays "NA").
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _check_compatible(metas: list[dict], folders: Sequence[Path]) -> None:
    """UsageError when the shards are not of one run (SHARED_KEYS differ)."""
    for key in SHARED_KEYS:
        seen = {str(m.get(key)) for m in metas}
        if len(seen) > 1:
            raise UsageError(
                f"the shards differ in {key} ({', '.join(sorted(seen))}): merge only shards of "
                "one run"
            )


def merge(folders: Sequence[Path], out: Path) -> list[Path]:
    """Join the report sets of shard runs into one, as an unsharded run would have written it:
    summary.csv and elements.csv byte-identical, metadata.json and report.html rebuilt.
    Returns the paths written; UsageError for a folder without a summary.csv, shards of
    different runs, or a case in more than one shard."""
    out = Path(out)
    metas, summaries, elements, arrays = [], [], [], {}
    for f in map(Path, folders):
        if not (f / "summary.csv").exists():
            raise UsageError(f"{f} holds no summary.csv: give the --out folders of shard runs")
        metas.append(json.loads((f / METADATA_FILE).read_text()))
        summaries.append(_read_text_csv(f / "summary.csv"))
        elements.append(_read_text_csv(f / "elements.csv"))
        arrays.update(load_arrays(f))
    _check_compatible(metas, folders)
    backends = metas[0]["backends"].split(",")
    summary = merge_tables(summaries, backends)
    elems = merge_tables(elements, backends)
    dup = summary.duplicated([c for c in ("case", "quantity", "dtype", "backend", "draw")
                              if c in summary.columns])  # fmt: skip
    if dup.any():
        raise UsageError(f"case {summary.loc[dup, 'case'].iloc[0]} is in more than one shard")
    out.mkdir(parents=True, exist_ok=True)
    s_path, e_path = out / "summary.csv", out / "elements.csv"
    atomic_write(s_path, summary.to_csv(index=False, lineterminator="\n"))
    atomic_write(e_path, elems.to_csv(index=False, lineterminator="\n"))
    meta = merged_metadata(metas, summary, folders)
    numeric_s = _read_numeric_csv(s_path).fillna({"reason": ""})
    numeric_e = _read_numeric_csv(e_path)
    html = write_html(numeric_s, numeric_e, meta, out / "report.html", arrays)
    m_path = atomic_write(out / METADATA_FILE, metadata_json(meta))
    return [s_path, e_path, html, m_path]
