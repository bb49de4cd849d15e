"""mixjax: reverse-engineer music mixing graphs in JAX.

From a song's dry tracks, their subgrouping and the final stereo mix, mixjax
searches for the mixing graph (which processors sit on which track or
subgroup, with which settings) by gradient descent on differentiable
processors and iterative pruning (Lee et al., DAFx-24; GRAFX).
"""

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
from mixjax.loading import load_song as load_song
from mixjax.processors import PROCESSORS as PROCESSORS
from mixjax.synthetic import GroundTruth as GroundTruth
from mixjax.synthetic import synthetic_song as synthetic_song

__version__ = "0.1.0"

__all__ = [
    "Console",
    "ConsoleParams",
    "GroundTruth",
    "PROCESSORS",
    "RenderDetails",
    "SearchConfig",
    "SearchResult",
    "Song",
    "load_song",
    "enable_compilation_cache",
    "loss",
    "processors",
    "search",
    "search_batch",
    "synthetic_song",
]
