"""Synthetic songs with a known mixing graph, to test and measure the search.

* ``music``: ``synthetic_tracks``, the dry tracks of a procedural song;
* ``song``: ``synthetic_song`` (tracks, grouping, a sparse random graph and
  its rendered mix) and ``random_graph`` (such a graph for tracks of your own);
* ``truth``: ``GroundTruth`` (the graph that rendered the mix, and what each
  processor of it does), ``recovery_scores`` (precision, recall and F1 of a
  search's kept nodes) and ``settings_errors`` (how far each kept true node's
  action is from the truth's).

Each processor's prior over physical settings and their raw parameters live
in its own module (``sample_settings``, ``params_from_settings``).
"""

from mixjax.synthetic.music import INSTRUMENTS, synthetic_tracks
from mixjax.synthetic.song import random_graph, synthetic_song
from mixjax.synthetic.truth import GroundTruth, NodeSettings, recovery_scores, settings_errors

__all__ = ["GroundTruth", "INSTRUMENTS", "NodeSettings", "random_graph", "recovery_scores",
           "settings_errors", "synthetic_song", "synthetic_tracks"]
