"""JAX's persistent compilation cache, so a second run starts in seconds.

Compiling the search's two programs takes tens of seconds to minutes on a
CPU; the cache stores them on disk keyed by their shapes and settings. The
``mixjax`` command enables it by default (``MIXJAX_CACHE_DIR`` chooses the
folder, ``MIXJAX_CACHE_DIR=off`` disables it); library users call
``enable_compilation_cache()`` once, before their first search.
"""

from __future__ import annotations

import os

import jax

DEFAULT_DIR = os.path.join(os.path.expanduser("~"), ".cache", "mixjax", "xla")


def enable_compilation_cache(directory: str | None = None) -> str | None:
  """Turns on JAX's persistent compilation cache.

  Args:
    directory: where to keep compiled programs (default: ``MIXJAX_CACHE_DIR``
      or ``~/.cache/mixjax/xla``).

  Returns:
    The folder used, or None when ``MIXJAX_CACHE_DIR`` is ``off``.
  """
  directory = directory or os.environ.get("MIXJAX_CACHE_DIR") or DEFAULT_DIR
  if directory.lower() == "off":
    return None
  os.makedirs(directory, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", directory)
  # Every program, however quick to compile: a second run on the same shapes
  # then compiles nothing at all (tests/test_cache.py checks it).
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  return directory
