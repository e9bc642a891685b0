"""Defect classifiers by name, on one fit procedure (threshold, calibration, lineage).

The names below are re-exported because model files written by earlier releases pickle them
under ``defectops.models``: loading such a file looks them up here.
"""

from defectops.models.classifier import DefectClassifier
from defectops.models.fitting import FitRecord
from defectops.models.gbm import CalibratedBooster

__all__ = ["CalibratedBooster", "DefectClassifier", "FitRecord"]
