"""Speed and scale measurements, written as tables to reports/bench/ (`python -m benchmarks`)."""
