"""The search: fit the console with Optax, then prune it to a sparse graph.

* ``config``: ``SearchConfig`` (the paper's settings by default).
* ``fit``: the jitted training step and its ``lax.scan`` dispatch.
* ``evaluate``: the whole-song loss for batches of alive masks.
* ``prune``: Algorithm 1, its samplers, batched exact trials.
* ``run``: ``search(song)`` and ``search_batch(songs)``, the whole pipeline.
* ``batch``: ``BatchSearch``, one part of a batch and its phases (fit, prune, ...).
* ``precise``: the precise method (``SearchConfig(method="precise")``).
* ``incremental``: pruning trials that re-render only what a removal changes.
* ``buckets``: the padded track and group counts a song is searched at.
* ``result``: ``SearchResult`` and its readers (``graph``, ``summary``).
* ``checkpoint``: resumable checkpoints.
"""

from mixjax.graph_search.batch import BatchSearch as BatchSearch
from mixjax.graph_search.batch import SearchInterrupted as SearchInterrupted
from mixjax.graph_search.config import SAMPLERS as SAMPLERS
from mixjax.graph_search.config import SearchConfig as SearchConfig
from mixjax.graph_search.result import SearchResult as SearchResult
from mixjax.graph_search.run import search as search
from mixjax.graph_search.run import search_batch as search_batch

__all__ = ["BatchSearch", "SAMPLERS", "SearchConfig", "SearchInterrupted", "SearchResult", "search",
           "search_batch"]
