"""mixjax's benchmarks: scripts that print one JSON object last, and their shared plumbing.

A folder of the repository, not installed with mixjax (the wheel holds ``mixjax`` only). Run a
script from the repository root (``python benchmarks/render.py ...``): each puts the root on
``sys.path`` when run as a script, so the scripts import their siblings as
``from benchmarks import timing``. Shared pieces:

* ``timing``: wall and compile seconds, peak memory, one measurement per child process,
  machine paths from environment variables;
* ``grafx_side``: runs the GRAFX reference (``grafx_driver.py``, ``grafx_search.py``) in its
  own environment.

This file imports nothing: the GRAFX-side scripts run under another python without mixjax.
"""
