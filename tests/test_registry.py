"""The registry as parametrized tests: one item per report row, e.g.
``two_paths[inhouse-grad-float64]`` (items are added by harness.pytest_plugin)."""

from harness.registry import load_cases


def test_registry_is_not_empty():
    assert len(load_cases()) > 0
