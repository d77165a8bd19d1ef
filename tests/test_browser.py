"""report.html in a real browser (headless Chromium): the grid and the figures render, and the
failures-only filter works from a file. Skipped, with the reason, where Chromium cannot be had."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]  # fmt: skip
WINDOW = (1280, 2000)
#: The report's cases; only two_paths (a scalar input: skewed leaves it alone) is all expected.
CASES = ("two_paths_vector", "softmax_1d", "two_paths")
DTYPES = ("float64", "float32")
#: Appended to a copy of the report: after load, counts what the browser actually shows.
PROBE = """<script>addEventListener("load", () => {
  const shown = (el) => getComputedStyle(el).display !== "none" && el.offsetParent !== null;
  const d = document.body.dataset;
  d.decoded = [...document.images].filter((i) => i.complete && i.naturalWidth > 0).length;
  d.rows = [...document.querySelectorAll("table.grid tbody tr")].filter(shown).length;
  d.cells = [...document.querySelectorAll("details.cell")].filter(shown).length;
});</script>"""


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path; installs Debian's `chromium` once where it is missing and we are root."""
    if found := _find_chromium():
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    last = ""
    for cmd in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "chromium"]):  # fmt: skip
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            pytest.skip(f"`{' '.join(cmd)}` took longer than 15 minutes")
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        if cmd[1] == "install" and proc.returncode == 0 and (found := _find_chromium()):
            return found
    pytest.skip(f"chromium could not be installed with apt-get: {last[0]}")


def _run(chromium: str, tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", *args, url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real run with failing grad and Jacobian cells (so there are heatmaps), declared
    failures (the naive second-order rule) and one case without any unexpected result."""
    pytest.importorskip("torch")
    from harness import backends as backend_registry
    from harness.cli import main

    out = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(backend_registry.BUILTIN, "skewed", "tests.test_report_html:Skewed")
        argv = ["validate", "--cases", *CASES, "--backends", "torch,fd,mp,inhouse-naive,skewed",
                "--dtypes", ",".join(DTYPES), "--out", str(out)]  # fmt: skip
        assert main(argv) == 1
    return out / "report.html"


def _probe(chromium: str, report: Path, tmp: Path, checked: bool = False) -> dict[str, int]:
    page = report.read_text(encoding="utf-8")
    if checked:
        page = page.replace('id="only-unexpected"', 'id="only-unexpected" checked', 1)
    copy = tmp / ("checked.html" if checked else "probe.html")
    copy.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _run(chromium, tmp, copy.as_uri(), "--dump-dom", "--virtual-time-budget=10000").stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    return {k: int(v) for k, v in re.findall(r'data-(\w+)="(\d+)"', body)}


def test_dom_has_the_grid_rows_and_embedded_images(chromium, report, tmp_path):
    dom = _run(chromium, tmp_path, report.as_uri(), "--dump-dom").stdout
    grid = re.search(r'<table[^>]*class="grid".*?</table>', dom, re.S).group(0)
    for case in CASES:
        assert re.search(rf">{case}</th>", grid)
    assert len(re.findall(r"<tbody>.*?</tbody>", grid, re.S)) == 1
    assert len(re.findall(r"<tr>", grid.split("<tbody>")[1])) == len(CASES)
    imgs = re.findall(r'<img alt="heatmap of[^"]*\[([\w-]+)-(\w+)-\w+\]" src="data:image/png;', dom)
    vector_cases = [c for c in CASES if c != "two_paths"]  # skewed fails their Jacobians
    assert imgs.count(("skewed", "jacobian")) == len(vector_cases) * len(DTYPES)
    assert set(imgs) <= {("skewed", "jacobian"), ("inhouse-naive", "hessian")}
    assert "http://" not in dom and "https://" not in dom


def test_images_decode_and_the_failures_only_filter_narrows_the_page(chromium, report, tmp_path):
    every = _probe(chromium, report, tmp_path)
    assert every["decoded"] == report.read_text().count("<img ") >= 4
    assert every["rows"] == len(CASES)
    narrowed = _probe(chromium, report, tmp_path, checked=True)
    assert narrowed["rows"] == len(CASES) - 1  # two_paths (a scalar input) has nothing unexpected
    assert 0 < narrowed["cells"] < every["cells"]
    assert narrowed["cells"] == report.read_text().count('<details class="cell unexpected"')


def test_screenshot_is_not_blank(chromium, report, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    _run(chromium, tmp_path, report.as_uri(), f"--screenshot={shot}",
         f"--window-size={WINDOW[0]},{WINDOW[1]}")  # fmt: skip
    assert shot.stat().st_size > 30_000
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[:2] == (WINDOW[1], WINDOW[0])
    colors = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colors) > 100  # text, verdict colours, figures: not one flat colour
    assert (img < 128).any(axis=2).mean() > 0.005  # there is dark text
