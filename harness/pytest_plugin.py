"""Parametrized pytest runs over the registry.

A test module named ``test_registry*.py`` gains one item per report row, with the report's id:
``two_paths[inhouse-grad-float64]``. Each case is computed once per process (all its cells are
judged together: blame needs every backend), and all its items run on one xdist worker.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from harness import backends as backend_registry
from harness.registry import DTYPES, QUANTITIES, Case, select


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness", "autodiff validation registry")
    g.addoption("--harness-cases", default="*", help="comma-separated globs over case names")
    g.addoption("--harness-backends", default=",".join(backend_registry.DEFAULT))
    g.addoption("--harness-dtypes", default=",".join(DTYPES))
    g.addoption("--harness-seed", type=int, default=0)
    g.addoption(
        "--harness-random",
        type=int,
        default=0,
        metavar="N",
        help="one more item per case, case[random-N]: N generated input sets (hypothesis)",
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


def cell_id(case: str, backend: str, quantity: str, dtype: str) -> str:
    """The id shared by a pytest item and a report row."""
    return f"{case}[{backend}-{quantity}-{dtype}]"


class _Results:
    """Per-process cache: case name -> {cell id: summary row}."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.by_case: dict[str, dict[str, dict[str, Any]]] = {}
        self.runner: Any = None

    def rows(self, case: Case) -> dict[str, dict[str, Any]]:
        if case.name not in self.by_case:
            from harness.results import tidy

            self.get_runner()
            rows, _ = self.runner.run_case(case, _opt(self.config, "--harness-dtypes"), QUANTITIES)
            df = tidy(rows, self.runner.backends)
            self.by_case[case.name] = {
                cell_id(r["case"], r["backend"], r["quantity"], r["dtype"]): r
                for r in df.to_dict("records")
            }
        return self.by_case[case.name]

    def get_runner(self) -> Any:
        """The process's one Runner (backends keep their compiled functions between cases)."""
        from harness.runner import Runner

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
        self.add_marker(pytest.mark.registry)
        self.add_marker(pytest.mark.xdist_group(case.name))

    def runtest(self) -> None:
        from harness import generate

        cfg = self.config
        runner = cfg.stash[_RESULTS].get_runner()
        n, seed = cfg.getoption("--harness-random"), cfg.getoption("--harness-seed")
        dtypes = _opt(cfg, "--harness-dtypes")
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
        self.add_marker(pytest.mark.xdist_group(case.name))

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


class CellFailure(AssertionError):
    """A registry cell whose verdict is unexpected."""


_RESULTS = pytest.StashKey[_Results]()


class RegistryModule(pytest.Module):
    """A test module plus one item per registry cell."""

    def collect(self) -> list[Any]:
        items = list(super().collect())
        cfg = self.config
        backends = _opt(cfg, "--harness-backends")
        dtypes = _opt(cfg, "--harness-dtypes")
        instances = _instances(backends)
        for case in select(_opt(cfg, "--harness-cases")):
            for d in [d for d in DTYPES if d in dtypes and d in case.dtypes]:
                for q in [q for q in QUANTITIES if q in case.quantities]:
                    for b in backends:
                        if b in instances and not instances[b].applies(case, q, d):
                            continue
                        cid = cell_id(case.name, b, q, d)
                        items.append(CellItem.from_parent(self, name=cid, case=case, cell=cid))
            n = cfg.getoption("--harness-random")
            if n > 0 and any(s.values is None for s in case.inputs.values()):
                name = f"{case.name}[random-{n}]"
                items.append(DrawItem.from_parent(self, name=name, case=case))
        return items


def _instances(names: list[str]) -> dict[str, Any]:
    """Backends that can be loaded (to ask which cells exist); others are skipped later."""
    out = {}
    for n in names:
        with contextlib.suppress(ImportError, KeyError):
            out[n] = backend_registry.get(n)
    return out


def pytest_configure(config: pytest.Config) -> None:
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
                if Path(path).name.startswith("test_registry") and "[" in name and "@" not in name:
                    return f"{path}::{name.split('[')[0]}"
                return super()._split_scope(nodeid)

        return ByCase(config, log)


def _backend_modules(config: pytest.Config) -> None:
    """Register --harness-backend-module backends (added to the default selection) and
    reject unknown backend names with one sentence."""
    from harness import plugins

    found: list[str] = []
    try:
        for path in config.getoption("--harness-backend-module"):
            found += plugins.load_module(path, taken=backend_registry.BUILTIN)
    except plugins.PluginError as e:
        raise pytest.UsageError(str(e)) from None
    if found and config.getoption("--harness-backends") == ",".join(backend_registry.DEFAULT):
        config.option.harness_backends = ",".join([*backend_registry.DEFAULT, *found])
    valid = backend_registry.names()
    unknown = [b for b in _opt(config, "--harness-backends") if b not in valid]
    if unknown:
        raise pytest.UsageError(
            f"unknown backend {', '.join(map(repr, unknown))}; valid choices: {', '.join(valid)}"
        )


def pytest_pycollect_makemodule(module_path: Any, parent: Any) -> Any:
    if module_path.name.startswith("test_registry"):
        return RegistryModule.from_parent(parent, path=module_path)
    return None
