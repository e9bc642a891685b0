"""The one preprocessing path shared by training and serving.

``FeatureBuilder`` is re-exported because model files written by earlier releases pickle it
under ``defectops.features``: loading such a file looks it up here.
"""

from defectops.features.builder import FeatureBuilder

__all__ = ["FeatureBuilder"]
