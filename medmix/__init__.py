"""medmix: merge, evaluate and rank Segment Anything models for medical imaging.

`import medmix` stays light: submodules (and torch) load on first use.
"""

from medmix._version import __version__
from medmix.errors import MedmixError

__all__ = ["MedmixError", "__version__", "metric"]


def __getattr__(name: str):
    if name == "metric":
        from medmix.metrics.registry import metric

        return metric
    raise AttributeError(f"module 'medmix' has no attribute {name!r}")
