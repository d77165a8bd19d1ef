"""The registry's own cases: one module per family, each case a decorated function."""
