"""hatangso: coverage planning for Vietnam's digital-infrastructure plans."""

__version__ = "0.1.0"
