"""The registry as parametrized tests: one item per report row, e.g.
``two_paths[inhouse-grad-float64]``. harness.pytest_plugin adds the items to this file because
pyproject.toml's ``harness_registry`` ini option names it."""
