"""defectops: keep a defect classifier trained, honestly evaluated, promoted and served."""

__version__ = "0.1.0"
