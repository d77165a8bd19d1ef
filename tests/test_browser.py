"""report.html in a real browser (headless Chromium over the DevTools protocol, tests/chromium.py):
the grid and figures render offline; the grid's header row and case column stay on screen while
scrolling; columns of backends that apply to few cases are narrow; clicking a cell opens its
details; the failures-only filter works from a file; two planted one-line bugs make a short
failures section. Without Chromium these tests skip, except under CI=true, where they fail: CI
installs it up front (.ci/browser)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness import backends as backend_registry
from harness.cli import main
from tests.chromium import Browser, Page, find_chromium
from tests.engine_bugs import PLANTED_OPS

#: The report's cases; only two_paths (a scalar input: skewed leaves it alone) is all expected.
CASES = ("two_paths_vector", "softmax_1d", "two_paths")
DTYPES = ("float64", "float32")
#: Cases through tanh or exp (tests.engine_bugs plants both): many failing cells, two bugs.
PLANTED_CASES = (
    "affine_tanh",
    "two_paths",
    "two_paths_vector",
    "diamond",
    "cross_inputs",
    "shared_by_five_paths",
    "reused_subexpression",
    "composite_separable_exp_log",
)
#: A failures section for two one-line bugs fits in this many screens (at 1280 × 1000).
SCREENS = 3
ROOT = Path(__file__).resolve().parents[1]
#: Set to a folder to keep the screenshots the tests take.
SHOTS = os.environ.get("HARNESS_SCREENSHOTS")


def chromium_path() -> str:
    """Chromium's path; a skip naming the fix where there is none, a failure under CI=true."""
    if found := find_chromium():
        return found
    why = "chromium is not installed (Debian: apt-get install chromium; CI runs .ci/browser)"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{why}: under CI=true the browser tests never skip")
    pytest.skip(why)


@pytest.fixture(scope="session")
def chromium() -> str:
    return chromium_path()


@pytest.fixture
def browser(chromium, tmp_path):
    b = Browser(chromium, tmp_path / "profile")
    yield b
    b.close()


def _validate(out: Path, cases, backends: str, extra: dict[str, str]) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        for name, where in extra.items():
            mp.setitem(backend_registry.BUILTIN, name, where)
        argv = ["validate", "--cases", *cases, "--backends", backends, "--dtypes",
                ",".join(DTYPES), "--out", str(out)]  # fmt: skip
        assert main(argv) == 1
    return out / "report.html"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real run with failing grad and Jacobian cells (so there are heatmaps), declared
    failures (the naive second-order rule) and one case without any unexpected result; the
    seed's softmax formula seed-2-9 applies to one case of three."""
    pytest.importorskip("torch")
    return _validate(tmp_path_factory.mktemp("report"), CASES,
                     "torch,fd,mp,inhouse-naive,skewed,seed-2-9",
                     {"skewed": "tests.test_report_html:Skewed"})  # fmt: skip


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """A run of the in-house engine with tanh' and exp' sign-flipped (tests.engine_bugs)."""
    pytest.importorskip("torch")
    return _validate(tmp_path_factory.mktemp("planted"), PLANTED_CASES, "torch,fd,flipped",
                     {"flipped": "tests.engine_bugs:Flipped"})  # fmt: skip


def _shot(page: Page, tmp_path: Path, name: str) -> Path:
    path = page.screenshot(tmp_path / name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / name)
    return path


def test_the_grid_and_the_figures_render_offline(browser, report):
    page = browser.open(report.as_uri(), 1280, 1000)
    shown = page.js("[...document.querySelectorAll('table.grid th.case')].map(t => t.innerText)")
    assert sorted(shown[1:]) == sorted(CASES)  # the corner, then one row per case
    alts = page.js("[...document.images].filter(i => i.complete && i.naturalWidth > 0)"
                   ".map(i => i.alt)")  # fmt: skip
    assert len(alts) == report.read_text().count("<img ") >= 2
    heat = [a for a in alts if a.startswith("heatmap")]
    assert heat and all("[skewed-jacobian-" in a or "[inhouse-naive-hessian-" in a for a in heat)
    assert "http://" not in report.read_text() and "https://" not in report.read_text()


#: The grid's case headings (a row's last th: the case, after the family where it has one).
CASE_TH = "table.grid tbody tr:has(td) > th:last-of-type"
#: Where the unexpected failures are listed: from their heading to the declared ones (or the end).
SECTION = """(() => {
    const start = document.querySelector('h3.group').getBoundingClientRect().top;
    const after = [...document.querySelectorAll('.expected-only')]
        .map(e => e.getBoundingClientRect().top).filter(t => t > start);
    const end = after.length ? Math.min(...after) : document.body.getBoundingClientRect().bottom;
    return [start + scrollY, end - start];
})()"""


def _box(page: Page, selector: str) -> dict:
    return page.js(f"document.querySelector({selector!r}).getBoundingClientRect().toJSON()")


def _halfway(page: Page, x: float = 0) -> None:
    """Scroll halfway down the grid (and `x` to the right)."""
    grid = _box(page, "table.grid")
    page.scroll(x, grid["top"] + grid["height"] / 2)


def test_header_row_and_case_column_stay_on_screen_while_scrolling(browser, report):
    page = browser.open(report.as_uri(), 520, 600)  # narrower than the grid: it scrolls both ways
    assert _box(page, "table.grid")["right"] > 520
    _halfway(page, 260)
    head = _box(page, "table.grid thead th:last-child")
    assert abs(head["top"]) < 1 and head["height"] > 10  # the header row, at the top
    assert page.js("!!document.elementFromPoint(innerWidth / 2, 5).closest('thead')")
    case = page.js(f"""(() => {{
        const th = [...document.querySelectorAll({CASE_TH!r})]
            .find(t => t.getBoundingClientRect().top > {head["bottom"]});
        const r = th.getBoundingClientRect();
        return [r.left, document.elementFromPoint(r.left + 5, r.top + r.height / 2) === th];
    }})()""")
    assert abs(case[0]) < 1 and case[1]  # the case column, at the left edge, over the cells


def test_backends_that_apply_to_few_cases_get_narrow_columns(browser, report):
    page = browser.open(report.as_uri(), 1280, 1000)
    widths = dict(
        page.js(
            "[...document.querySelectorAll('table.grid thead th')]"
            ".map(t => [t.innerText.replace(/\\s/g, ''), t.offsetWidth])"
        )
    )
    backends = {"torch", "fd", "mp", "inhouse-naive", "skewed", "seed-2-9"}
    assert backends <= set(widths)
    others = [widths[b] for b in backends - {"seed-2-9"}]  # seed-2-9: only softmax_1d
    assert widths["seed-2-9"] <= min(others) / 2
    assert widths["seed-2-9"] < 0.1 * page.js("document.querySelector('table.grid').offsetWidth")


def test_clicking_a_cell_opens_its_details(browser, report):
    page = browser.open(report.as_uri(), 1280, 1000)
    # a declared cell (the naive rule): its details start closed
    target = page.js("""(() => {
        const a = [...document.querySelectorAll('table.grid td.v-expected_fail a')][0];
        a.scrollIntoView({block: 'center'});
        return a.hash.slice(1);
    })()""")
    page.settle()
    shut = f"""(() => {{ let n = 0;
        for (let e = document.getElementById('{target}'); e; e = e.parentElement)
            if (e.tagName === 'DETAILS' && !e.open) n++;
        return n; }})()"""
    assert page.js(shut) > 0
    box = _box(page, f'a[href="#{target}"]')
    page.click(box["left"] + box["width"] / 2, box["top"] + box["height"] / 2)
    assert page.js("location.hash") == f"#{target}"
    assert page.js(shut) == 0  # its block, and the group around it, are open
    shown = page.js(f"""(() => {{ const t = document.getElementById('{target}');
        const r = t.getBoundingClientRect();
        return t.checkVisibility() && r.top >= 0 && r.top < innerHeight; }})()""")
    assert shown  # on screen, where the click took the reader


def test_the_failures_only_filter_narrows_the_page_with_a_click(browser, report):
    page = browser.open(report.as_uri(), 1280, 1000)
    # shown: not hidden by the filter (a closed block's content is still "shown")
    count = (
        "[...document.querySelectorAll('SEL')].filter(e => { for (; e; e = e.parentElement)"
        " if (getComputedStyle(e).display === 'none') return false; return true; }).length"
    )
    rows, cells = (page.js(count.replace("SEL", s)) for s in (CASE_TH, ".cell"))
    box = _box(page, "label.filter")
    page.click(box["left"] + 10, box["top"] + box["height"] / 2)
    assert page.js("document.getElementById('only-unexpected').checked")
    assert page.js(count.replace("SEL", CASE_TH)) == rows - 1  # two_paths: nothing unexpected
    narrowed = page.js(count.replace("SEL", ".cell"))
    declared = page.js("document.querySelectorAll('.expected-only .cell').length")
    assert 0 < narrowed < cells == narrowed + declared


def test_two_planted_bugs_make_a_short_failures_section(browser, planted, tmp_path):
    page = browser.open(planted.as_uri(), 1280, 1000)
    failing = page.js("document.querySelectorAll('[id^=cell-]').length")
    blocks = page.js("document.querySelectorAll('details.cell').length")
    assert failing >= 5 * len(PLANTED_OPS) * len(PLANTED_CASES) // 2  # many cells ...
    assert blocks <= len(PLANTED_CASES)  # ... one block per case (twins and quantities in it)
    top, height = page.js(SECTION)
    assert height < SCREENS * 1000
    page.scroll(0, top - 10)
    _assert_not_blank(_shot(page, tmp_path, "grouped_failures.png"))


def test_a_screenshot_of_the_grid_scrolled_halfway_shows_its_header(browser, planted, tmp_path):
    page = browser.open(planted.as_uri(), 1280, 600)
    _halfway(page)
    img = _assert_not_blank(_shot(page, tmp_path, "grid_halfway.png"))
    first, last = (
        _box(page, "table.grid thead th:nth-child(2)"),
        _box(page, "table.grid thead th:last-child"),
    )
    band = img[3 : int(first["bottom"]) - 3, int(first["left"]) + 3 : int(last["right"]) - 3]
    soft = np.all(band == (0xF5, 0xF6, 0xF8), axis=2).mean()  # --soft, the header's background
    assert soft > 0.5 and (band < 128).any(axis=2).mean() > 0.01  # and its names in dark text


def _assert_not_blank(shot: Path) -> np.ndarray:
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"))
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50  # text and colours, not one flat fill
    assert (img < 128).any(axis=2).mean() > 0.005  # there is dark text
    return img


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr("tests.test_browser.find_chromium", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="never skip"):
        chromium_path()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        chromium_path()


def _ci_browser(tmp_path: Path, root: bool = True, present: bool = False):
    """Run .ci/browser with stubs for apt-get, id (and chromium when `present`) alone on PATH;
    returns the process and the apt-get calls."""
    stubs, log = tmp_path / "bin", tmp_path / "apt.log"
    stubs.mkdir(parents=True)
    bodies = {"apt-get": f'echo "$*" >> {log}', "id": f"echo {0 if root else 1000}"}
    if present:
        bodies["chromium"] = "exit 0"
    for name, body in bodies.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    proc = subprocess.run(
        [shutil.which("bash"), str(ROOT / ".ci" / "browser")],
        env={"PATH": str(stubs)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc, log.read_text().splitlines() if log.exists() else []


def test_ci_installs_chromium_up_front_before_the_tests(tmp_path):
    proc, calls = _ci_browser(tmp_path / "missing")
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[2] for c in calls] == ["update", "install"]
    assert calls[1].endswith("install -y -q chromium") and "Lock::Timeout" in calls[1]
    proc, calls = _ci_browser(tmp_path / "present", present=True)
    assert proc.returncode == 0 and calls == []
    proc, calls = _ci_browser(tmp_path / "user", root=False)
    assert proc.returncode == 1 and "needs root" in proc.stderr and calls == []
    run = (ROOT / ".ci" / "run").read_text()
    assert "CI=" in run and run.index(".ci/browser") < run.index("make test")
