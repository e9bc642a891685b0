"""Where MLflow models logged by defectops 0.1.0 find the verified loader.

Their stored model code imports ``defectops.model_files.load_verified``; this name keeps them
loadable. New code imports :mod:`defectops.registry.model_files`.
"""

from defectops.registry.model_files import load_verified

__all__ = ["load_verified"]
