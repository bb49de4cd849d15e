"""mixjax.progress: one bar in a notebook (a widget, or a text bar that redraws rarely)."""

import io
import sys
import types
import warnings

from tqdm import notebook, std

from mixjax import progress


class _Terminal(io.StringIO):
  def isatty(self):
    return True


def _fake_kernel(monkeypatch):
  """Makes ``progress`` see a Jupyter kernel (IPython's ``IPKernelApp`` in its config)."""
  shell = types.SimpleNamespace(config={"IPKernelApp": {}})
  monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


def test_a_terminal_gets_tqdms_text_bar():
  bar = progress.tqdm(total=10, file=_Terminal())
  assert type(bar) is std.tqdm and bar.mininterval == 0.1  # tqdm's default
  bar.close()


def test_a_log_or_a_notebook_without_widgets_gets_a_rarely_redrawn_text_bar(monkeypatch):
  _fake_kernel(monkeypatch)
  monkeypatch.setattr(notebook, "IProgress", None)  # ipywidgets missing
  out = io.StringIO()
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # tqdm.auto would warn: IProgress not found
    bar = progress.tqdm(total=1000, file=out, desc="fit")
    for _ in range(1000):
      bar.set_postfix({"crop loss": "0.1"}, refresh=False)
      bar.update()
    bar.close()
  assert type(bar) is std.tqdm
  assert bar.mininterval == bar.maxinterval == progress.PLAIN_SECONDS
  assert out.getvalue().count("fit:") <= 3, out.getvalue()  # drawn at start and end only


def test_a_notebook_with_widgets_gets_the_widget(monkeypatch):
  _fake_kernel(monkeypatch)
  monkeypatch.setattr(notebook, "IProgress", object)
  monkeypatch.setattr(notebook, "tqdm", lambda *args, **kwargs: ("widget", kwargs))
  assert progress.tqdm(total=3, desc="fit") == ("widget", {"total": 3, "desc": "fit"})


def test_outside_a_kernel_ipython_alone_changes_nothing(monkeypatch):
  monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
  monkeypatch.setattr(notebook, "IProgress", object)
  bar = progress.tqdm(total=3, file=io.StringIO())
  assert type(bar) is std.tqdm
  bar.close()
