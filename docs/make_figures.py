"""Regenerate the README's figures: `python docs/make_figures.py` (a few seconds).

The comparison figure comes from `awake-tutorial compare --out docs/results` (minutes).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from awake_tutorial import plotting  # noqa: E402
from awake_tutorial.tasks import load_evaluation_tasks  # noqa: E402

OUT = Path(__file__).parent / "figures"

if __name__ == "__main__":
    tasks = load_evaluation_tasks()
    print(plotting.save_figure(plotting.plot_tasks(tasks[:3]), OUT / "response_matrices.png"))
