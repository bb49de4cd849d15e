"""mixjax: reverse-engineer music mixing graphs in JAX.

From a song's dry tracks, their subgrouping and the final stereo mix, mixjax
searches for the mixing graph (which processors sit on which track or
subgroup, with which settings) by gradient descent on differentiable
processors and iterative pruning (Lee et al., DAFx-24; GRAFX).
"""

from mixjax import processors as processors
from mixjax.console import Console as Console
from mixjax.console import ConsoleParams as ConsoleParams
from mixjax.console import RenderDetails as RenderDetails
from mixjax.processors import PROCESSORS as PROCESSORS

__version__ = "0.1.0"

__all__ = [
    "Console",
    "ConsoleParams",
    "PROCESSORS",
    "RenderDetails",
    "processors",
]
