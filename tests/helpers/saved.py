"""Loading a saved .keras file as a user would: in a fresh Python process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
LOAD = """
import sys
{prelude}
import keras, numpy as np
model = keras.saving.load_model(sys.argv[1])
np.save(sys.argv[2], keras.ops.convert_to_numpy(model(np.load(sys.argv[3]), training=False)))
"""


def predict_in_fresh_process(model_file: Path, x, prelude: str = ""):
    """Runs `prelude`, then loads `model_file` and calls it on x, in a new
    interpreter that finds this checkout's resdsl. Returns the finished process
    and the outputs (None where it failed)."""
    model_file = Path(model_file)
    xs, ys = model_file.with_suffix(".x.npy"), model_file.with_suffix(".y.npy")
    np.save(xs, x)
    ys.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", LOAD.format(prelude=prelude), str(model_file), str(ys), str(xs)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done, (np.load(ys) if done.returncode == 0 else None)
