"""Mutation testing of the in-house engine: planted bugs, applied in memory one at a time."""

from harness.mutants.apply import StaleMutant, engine_sources, installed, load_engine
from harness.mutants.catalog import MUTANTS, Mutant

__all__ = ["MUTANTS", "Mutant", "StaleMutant", "engine_sources", "installed", "load_engine"]
