"""Progress bars that render as one bar wherever they are shown.

``tqdm`` takes tqdm's arguments and picks the bar for where it is shown:

* a Jupyter kernel with ipywidgets (Colab): tqdm's notebook widget;
* a terminal: tqdm's text bar, as usual;
* anywhere else (a notebook without ipywidgets, a log file, a CI job): the
  text bar, redrawn at most every ``PLAIN_SECONDS``, so a saved notebook or a
  log holds a few lines instead of hundreds of fragments.

``tqdm.auto`` would warn (``TqdmWarning: IProgress not found``) in a notebook
without ipywidgets and redraw there ten times a second.
"""

from __future__ import annotations

import sys

from tqdm import std

PLAIN_SECONDS = 30.0
"""Least time between two redraws of a bar that is not shown on a terminal or a widget."""


def _in_notebook() -> bool:
  """Whether this runs in a Jupyter kernel (IPython's ``IPKernelApp``)."""
  ipython = sys.modules.get("IPython")
  shell = getattr(ipython, "get_ipython", lambda: None)()
  return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _widgets() -> bool:
  """Whether tqdm's notebook widget can be drawn (ipywidgets is importable)."""
  try:
    from tqdm import notebook
  except ImportError:
    return False
  return getattr(notebook, "IProgress", None) is not None


def tqdm(*args, **kwargs):
  """A progress bar: tqdm's notebook widget, or its text bar (module docstring)."""
  if _in_notebook() and _widgets():
    from tqdm import notebook
    return notebook.tqdm(*args, **kwargs)
  file = kwargs.get("file") or sys.stderr
  if not getattr(file, "isatty", lambda: False)():
    kwargs.setdefault("mininterval", PLAIN_SECONDS)
    kwargs.setdefault("maxinterval", PLAIN_SECONDS)  # tqdm's monitor redraws after this
  return std.tqdm(*args, **kwargs)
