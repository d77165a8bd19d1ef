"""The case registry: one module per family, each case a decorated function."""
