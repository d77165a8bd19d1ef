"""Generated inputs: hypothesis draws inside each case's domain, shrunk when failing, replayable.

``inputs`` draws, shrinks and runs one case's draws; ``runs`` turns many cases' draws into
report rows, keeps the draws file and runs what --random / --replay ask for.
"""

from harness.generate.inputs import (
    DRAWS_FILE,
    KINK_MARGIN,
    SHRINK_BUDGET,
    UNEXPECTED,
    Draw,
    Exploration,
    ReplayError,
    case_strategy,
    draw_id,
    drawable,
    explore,
    input_strategy,
    near_kink,
    run_draw,
)
from harness.generate.runs import (
    DrawRun,
    Plan,
    draws_json,
    explore_all,
    load_draws,
    merged,
    replay,
    run,
    save_draws,
)

__all__ = [
    "DRAWS_FILE", "KINK_MARGIN", "SHRINK_BUDGET", "UNEXPECTED", "Draw", "DrawRun",
    "Exploration", "Plan", "ReplayError", "case_strategy", "draw_id", "drawable", "draws_json",
    "explore", "explore_all", "input_strategy", "load_draws", "merged", "near_kink", "replay",
    "run", "run_draw", "save_draws",
]  # fmt: skip
