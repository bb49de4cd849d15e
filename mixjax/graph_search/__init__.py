"""The search: fit the console with Optax, then prune it to a sparse graph.

* ``config``: ``SearchConfig`` (the paper's settings by default).
* ``fit``: the jitted training step and its ``lax.scan`` dispatch.
* ``evaluate``: the whole-song loss for batches of alive masks.
* ``prune``: Algorithm 1, its samplers, batched exact trials.
* ``run``: ``search(song)`` and ``search_batch(songs)``, the whole pipeline.
* ``result``: ``SearchResult`` and its readers (``graph``, ``summary``).
* ``checkpoint``: resumable checkpoints.
"""

from mixjax.graph_search.config import SAMPLERS as SAMPLERS
from mixjax.graph_search.config import SearchConfig as SearchConfig
from mixjax.graph_search.result import SearchResult as SearchResult
from mixjax.graph_search.run import search as search
from mixjax.graph_search.run import search_batch as search_batch

__all__ = ["SAMPLERS", "SearchConfig", "SearchResult", "search", "search_batch"]
