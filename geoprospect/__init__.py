"""geoprospect: mineral prospectivity mapping with deep learning.

The pipeline stages are importable as functions::

    from geoprospect import GridSpec, read_points, idw, distance_to_features
"""

from geoprospect.errors import GeoprospectError
from geoprospect.grid import GridSpec

__version__ = "0.1.0"

__all__ = ["GeoprospectError", "GridSpec", "__version__"]
