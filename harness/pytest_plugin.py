"""Parametrized pytest runs over the registry, opt-in.

Only the test files named by the ini option ``harness_registry`` (globs relative to the
rootdir, e.g. ``harness_registry = ["tests/test_registry.py"]``) gain one item per report row,
with the report's id: ``two_paths[inhouse-grad-float64]``. No other file of a user's suite is
touched, and the plugin's markers are registered, so ``--strict-markers`` runs clean. Each case
is computed once per process (all its cells are judged together: blame needs every backend),
and all its items run on one xdist worker.
"""

from __future__ import annotations

import contextlib
import fnmatch
from pathlib import Path
from typing import Any

import pytest

from harness import backends as backend_registry
from harness import generate
from harness.check import CheckResult, check
from harness.errors import UsageError
from harness.judge import selfcheck
from harness.library import load_case_module, select
from harness.registry import Case
from harness.results import tidy
from harness.runner import Runner
from harness.vocabulary import DEFAULT_DTYPES, DTYPES, QUANTITIES, QUANTITY, cell_id

REGISTRY_INI = "harness_registry"
MARKERS = (
    "registry: a cell of the harness registry (added by harness.pytest_plugin)",
    "harness_draws: generated input sets of one registry case (--harness-random)",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(REGISTRY_INI, type="linelist", default=[],
                  help="test files (globs relative to the rootdir) that gain the registry's "
                       "items")  # fmt: skip
    g = parser.getgroup("harness", "autodiff validation registry")
    g.addoption("--harness-cases", default="*", help="comma-separated globs over case names")
    g.addoption("--harness-backends", default=",".join(backend_registry.DEFAULT))
    g.addoption("--harness-dtypes", default=",".join(DEFAULT_DTYPES),
                help=f"comma-separated dtypes, or all ({','.join(DTYPES)})")  # fmt: skip
    g.addoption("--harness-seed", type=int, default=0)
    g.addoption(
        "--harness-random",
        type=int,
        default=0,
        metavar="N",
        help="one more item per case, case[random-N]: N generated input sets (hypothesis)",
    )
    g.addoption(
        "--harness-case-module",
        action="append",
        default=[],
        metavar="FILE.py",
        help="a file of your own @case functions, loaded beside the registry; repeatable",
    )
    g.addoption(
        "--harness-backend-module",
        action="append",
        default=[],
        metavar="FILE.py",
        help="a file defining Backend subclasses: selectable by name, and run by default",
    )


def _opt(config: pytest.Config, name: str) -> list[str]:
    return [v for v in str(config.getoption(name)).split(",") if v]


def _dtypes(config: pytest.Config) -> list[str]:
    """--harness-dtypes, ``all`` meaning every dtype of the table."""
    given = _opt(config, "--harness-dtypes")
    return list(DTYPES) if "all" in given else given or list(DEFAULT_DTYPES)


class _Results:
    """Per-process cache: case name -> {cell id: summary row}."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.by_case: dict[str, dict[str, dict[str, Any]]] = {}
        self.runner: Runner | None = None

    def rows(self, case: Case) -> dict[str, dict[str, Any]]:
        if case.name not in self.by_case:
            self.get_runner()
            rows, _ = self.runner.run_case(case, _dtypes(self.config), QUANTITIES)
            df = tidy(rows, self.runner.backends)
            self.by_case[case.name] = {
                cell_id(r["case"], r["backend"], r["quantity"], r["dtype"]): r
                for r in df.to_dict("records")
            }
        return self.by_case[case.name]

    def get_runner(self) -> Runner:
        """The process's one Runner (backends keep their compiled functions between cases)."""
        if self.runner is None:
            self.runner = Runner(
                _opt(self.config, "--harness-backends"),
                seed=self.config.getoption("--harness-seed"),
            )
        return self.runner


class DrawItem(pytest.Item):
    """N generated input sets of one case; fails with the shrunk failing draw and its replay."""

    def __init__(self, *, case: Case, **kw: Any) -> None:
        super().__init__(**kw)
        self.case = case
        self.add_marker(pytest.mark.harness_draws)
        _group(self, case)

    def runtest(self) -> None:
        cfg = self.config
        runner = cfg.stash[_RESULTS].get_runner()
        n, seed = cfg.getoption("--harness-random"), cfg.getoption("--harness-seed")
        dtypes = _dtypes(cfg)
        ex = generate.explore(runner, self.case, n, dtypes, QUANTITIES, seed)
        if ex.draw is None:
            return
        cache = getattr(cfg, "cache", None)
        folder = cache.mkdir("harness-draws") if cache else cfg.rootpath / "reports"
        path = generate.save_draws([ex.draw], folder / f"{self.case.name}.json")
        inputs = ", ".join(f"{k}={v.tolist()}" for k, v in ex.draw.inputs.items())
        bad = [r for r in ex.rows if r["verdict"] in generate.UNEXPECTED]
        lines = [f"draw {ex.draw.id} (shrunk; {ex.tried} draws run): {inputs}"]
        lines += [f"  {r['verdict']} {cell_id(r['case'], r['backend'], r['quantity'], r['dtype'])}"
                  f": {r['reason']}" for r in bad[:5]]  # fmt: skip
        lines.append(f"replay: python -m harness validate --replay '{ex.draw.id}' --draws {path}")
        raise CellFailure("\n".join(lines))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, CellFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


class CellItem(pytest.Item):
    """One case × backend × quantity × dtype cell."""

    def __init__(self, *, case: Case, cell: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.case = case
        self.cell = cell
        self.add_marker(pytest.mark.registry)
        _group(self, case)

    def runtest(self) -> None:
        results: _Results = self.config.stash[_RESULTS]
        row = results.rows(self.case).get(self.cell)
        if row is None:
            pytest.skip("cell not computed (backend or quantity not selected)")
        v = row["verdict"]
        if v == "skipped":
            pytest.skip(row["reason"])
        if v == "expected_fail":
            pytest.xfail(row["reason"])
        if v not in ("pass", "vacuous"):
            raise CellFailure(f"{v}: {row['reason']}")

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, CellFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.cell


def _group(item: pytest.Item, case: Case) -> None:
    """All items of a case on one xdist worker (only where xdist, which owns the marker, is)."""
    if item.config.pluginmanager.hasplugin("xdist"):
        item.add_marker(pytest.mark.xdist_group(case.name))


class CellFailure(AssertionError):
    """A registry cell whose verdict is unexpected."""


_RESULTS = pytest.StashKey[_Results]()


class RegistryModule(pytest.Module):
    """A test module plus one item per registry cell."""

    def collect(self) -> list[Any]:
        items = list(super().collect())
        cfg = self.config
        backends = _opt(cfg, "--harness-backends")
        dtypes = _dtypes(cfg)
        instances = _instances(backends)
        for case in select(_opt(cfg, "--harness-cases")):
            for d in [d for d in DTYPES if d in dtypes and d in case.dtypes]:
                for q in [q for q in QUANTITIES if q in case.quantities]:
                    for b in backends:
                        if b in instances and not _has_cell(instances[b], case, q, d):
                            continue
                        cid = cell_id(case.name, b, q, d)
                        items.append(CellItem.from_parent(self, name=cid, case=case, cell=cid))
            n = cfg.getoption("--harness-random")
            if n > 0 and any(s.values is None for s in case.inputs.values()):
                name = f"{case.name}[random-{n}]"
                items.append(DrawItem.from_parent(self, name=name, case=case))
        return items


def _has_cell(be: Any, case: Case, q: str, dtype: str) -> bool:
    """Whether the run gives `be` a row for this cell (self-checks: voters that are no
    oracle only, as the runner decides)."""
    if QUANTITY[q].self_check and not selfcheck.judged(be.traits()):
        return False
    return bool(be.applies(case, q, dtype))


def _instances(names: list[str]) -> dict[str, Any]:
    """Backends that can be loaded (to ask which cells exist); others are skipped later."""
    out = {}
    for n in names:
        with contextlib.suppress(ImportError, KeyError):
            out[n] = backend_registry.get(n)
    return out


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.stash[_RESULTS] = _Results(config)
    _backend_modules(config)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_CaseScheduling(), "harness-xdist-cases")


class _CaseScheduling:
    """Under ``--dist loadgroup``, all cells of a case go to one worker: they are computed and
    judged together, once. xdist marks groups by renaming node ids (``id@group``), which
    pytest 9.2 no longer allows, so the group is read from the id itself here."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") != "loadgroup":
            return None
        from xdist.scheduler import LoadGroupScheduling

        class ByCase(LoadGroupScheduling):
            def _split_scope(self, nodeid: str) -> str:
                path, _, name = nodeid.partition("::")
                if is_registry_file(config, Path(path)) and "[" in name and "@" not in name:
                    return f"{path}::{name.split('[')[0]}"
                return super()._split_scope(nodeid)

        return ByCase(config, log)


def _backend_modules(config: pytest.Config) -> None:
    """Register --harness-backend-module backends (added to the default selection) and
    reject unknown backend names with one sentence."""
    found: list[str] = []
    try:
        for path in config.getoption("--harness-case-module"):
            load_case_module(path)
        for path in config.getoption("--harness-backend-module"):
            found += backend_registry.load_module(path)
    except UsageError as e:
        raise pytest.UsageError(str(e)) from None
    if found and config.getoption("--harness-backends") == ",".join(backend_registry.DEFAULT):
        config.option.harness_backends = ",".join([*backend_registry.DEFAULT, *found])
    _check_selection(config)
    valid = backend_registry.names()
    unknown = [b for b in _opt(config, "--harness-backends") if b not in valid]
    if unknown:
        raise pytest.UsageError(
            f"unknown backend {', '.join(map(repr, unknown))}; valid choices: {', '.join(valid)}"
        )


def _check_selection(config: pytest.Config) -> None:
    """--harness-cases matching nothing and an unknown --harness-dtypes are usage errors: a
    registry run that tests nothing must not pass."""
    unknown = [d for d in _dtypes(config) if d not in DTYPES]
    if unknown:
        raise pytest.UsageError(
            f"unknown --harness-dtypes {', '.join(map(repr, unknown))}; valid: {', '.join(DTYPES)}"
        )
    patterns = _opt(config, "--harness-cases")
    if patterns != ["*"] and not select(patterns):
        raise pytest.UsageError(f"--harness-cases {','.join(patterns)} matches no case")


def is_registry_file(config: pytest.Config, path: Path) -> bool:
    """Whether `path` is one of the files the ini option ``harness_registry`` names."""
    try:
        rel = Path(path).resolve().relative_to(config.rootpath.resolve()).as_posix()
    except ValueError:
        return False
    return any(fnmatch.fnmatchcase(rel, pat) for pat in config.getini(REGISTRY_INI))


def pytest_pycollect_makemodule(module_path: Any, parent: Any) -> Any:
    if is_registry_file(parent.config, module_path):
        return RegistryModule.from_parent(parent, path=module_path)
    return None


@pytest.fixture
def harness_check(record_property: Any) -> Any:
    """``harness_check(fn, *args, **kw)``: harness.check from a test, its outcome attached to
    the JUnit XML (``record_property``): cells, unexpected cells, and for the worst failing
    cell its id, |err|, bound and blame. Raises harness.CheckError as check does."""

    def run(fn: Any, *args: Any, raise_on_fail: bool = True, **kw: Any) -> CheckResult:
        result = check(fn, *args, raise_on_fail=False, **kw)
        record_property("harness_cells", len(result.summary))
        record_property("harness_unexpected", len(result.failures))
        if not result.ok:
            worst = result.failures.iloc[0]
            record_property("harness_cell", cell_id(worst["case"], worst["backend"],
                                                    worst["quantity"], worst["dtype"]))  # fmt: skip
            for key in ("max_abs_err", "tol_abs", "blame"):
                record_property(f"harness_{key}", worst[key])
        return result.assert_ok() if raise_on_fail else result

    return run
