"""Small helpers for the notebooks: smoke mode and recorded values read back by tests."""

from __future__ import annotations

import json
import os

RECORD_KEY = "mlgcn_record"


def smoke_mode() -> bool:
    """True when ``MLGCN_SMOKE=1`` (set by the test suite): notebooks shrink their settings."""
    return os.environ.get("MLGCN_SMOKE", "") == "1"


def record(name: str, value) -> None:
    """Display ``value`` (JSON-serializable) tagged so tests can read it from the executed notebook."""
    from IPython.display import display

    payload = json.loads(json.dumps(value, default=float))
    display({"application/json": payload, "text/plain": f"recorded {name!r}"}, raw=True,
            metadata={RECORD_KEY: name})


def recorded(nb) -> dict:
    """All values recorded with :func:`record` in an executed notebook (nbformat node)."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get(RECORD_KEY)
            if name is not None:
                out[name] = o["data"]["application/json"]
    return out
