"""The one switch for every speed-up that relies on another library's private
internals (networkx's node and adjacency dicts, Keras' `keras.src`, TensorFlow's
variable creator scopes, ...).

Each such use is written as a fast function beside a plain one that uses only
public API, and chooses between them with `enabled()`. The plain path is the
reference: `RESDSL_FASTPATH=0` turns every fast path off, and the test suite runs
the same specs both ways (outputs, weights and saved files identical), so a
library release that breaks a private internal costs a switch, not an outage.
Nothing here imports a framework.
"""
from __future__ import annotations

import os

ENV = "RESDSL_FASTPATH"


def enabled() -> bool:
    """False where the environment says RESDSL_FASTPATH=0 (read at each call, so
    a test or a user can switch within one process)."""
    return os.environ.get(ENV, "1").strip() != "0"
