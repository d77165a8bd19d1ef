"""Where cases run: in this process (Runner), in worker processes or Ray tasks, or a shard."""

from harness.executors.pool import EXECUTORS, RAY_HINT, Pool, run_cases
from harness.executors.shards import parse_shard, select_shard, shard_index
from harness.executors.worker import WORKER_ENV, CaseResult, Config, crashed, run_one, worker_env

__all__ = [
    "EXECUTORS", "RAY_HINT", "WORKER_ENV", "CaseResult", "Config", "Pool", "crashed",
    "parse_shard", "run_cases", "run_one", "select_shard", "shard_index", "worker_env",
]  # fmt: skip
