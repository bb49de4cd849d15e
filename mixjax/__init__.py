"""mixjax: reverse-engineer music mixing graphs in JAX.

From a song's dry tracks, their subgrouping and the final stereo mix, mixjax
searches for the mixing graph (which processors sit on which track or
subgroup, with which settings) by gradient descent on differentiable
processors and iterative pruning (Lee et al., DAFx-24; GRAFX).

The public names below are loaded on first use, so ``import mixjax`` (and
``mixjax --help``) does not wait for JAX to start. Beyond them, five modules
are public, each documented in its docstring: ``mixjax.io.graph_json``
(graph.json: write, read, re-render), ``mixjax.io.results_folder`` (the
results folder of a search), ``mixjax.collect`` (a data set, in batches),
``mixjax.collection`` (a collected data set, loaded) and
``mixjax.processors`` (each processor's functions). Other modules are
internal: their names may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mixjax._version import __version__ as __version__

# name -> module that defines it (a module name alone: the module itself).
_EXPORTS = {
    "Console": "mixjax.console",
    "ConsoleParams": "mixjax.console",
    "GroundTruth": "mixjax.synthetic",
    "PROCESSORS": "mixjax.processors",
    "RenderDetails": "mixjax.console",
    "SearchConfig": "mixjax.graph_search",
    "SearchResult": "mixjax.graph_search",
    "Song": "mixjax.data",
    "enable_compilation_cache": "mixjax.cache",
    "load_song": "mixjax.io.song_folder",
    "load_tracks": "mixjax.io.song_folder",
    "loss": "mixjax.loss",
    "processors": "mixjax.processors",
    "search": "mixjax.graph_search",
    "recovery_scores": "mixjax.synthetic",
    "search_batch": "mixjax.graph_search",
    "synthetic_song": "mixjax.synthetic",
    "write_song": "mixjax.io.song_folder",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
  if name not in _EXPORTS:
    raise AttributeError(f"module 'mixjax' has no attribute {name!r}")
  module = importlib.import_module(_EXPORTS[name])
  value = module if module.__name__ == f"mixjax.{name}" else getattr(module, name)
  globals()[name] = value
  return value


def __dir__():
  return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
  from mixjax import loss as loss
  from mixjax import processors as processors
  from mixjax.cache import enable_compilation_cache as enable_compilation_cache
  from mixjax.console import Console as Console
  from mixjax.console import ConsoleParams as ConsoleParams
  from mixjax.console import RenderDetails as RenderDetails
  from mixjax.data import Song as Song
  from mixjax.graph_search import SearchConfig as SearchConfig
  from mixjax.graph_search import SearchResult as SearchResult
  from mixjax.graph_search import search as search
  from mixjax.graph_search import search_batch as search_batch
  from mixjax.io.song_folder import load_song as load_song
  from mixjax.io.song_folder import load_tracks as load_tracks
  from mixjax.io.song_folder import write_song as write_song
  from mixjax.processors import PROCESSORS as PROCESSORS
  from mixjax.synthetic import GroundTruth as GroundTruth
  from mixjax.synthetic import recovery_scores as recovery_scores
  from mixjax.synthetic import synthetic_song as synthetic_song
