"""mixjax's benchmarks: scripts that print one JSON object last, and their shared plumbing.

Run a script from the repository root (``python benchmarks/render.py ...``); with mixjax
installed (``pip install -e .``) the package ``benchmarks`` is importable, so the scripts
import their siblings as ``from benchmarks import timing``. Shared pieces:

* ``timing``: wall and compile seconds, peak memory, one measurement per child process,
  machine paths from environment variables;
* ``grafx_side``: runs the GRAFX reference (``grafx_driver.py``, ``grafx_search.py``) in its
  own environment.

This file imports nothing: the GRAFX-side scripts run under another python without mixjax.
"""
