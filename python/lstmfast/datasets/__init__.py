"""Data: built-in time series and the tools of the forecasting course
(:mod:`.timeseries`), reading a series from a CSV file (:mod:`.series`), and
the subject-verb agreement sentences, "the cat(s) ... was/were"
(:mod:`.agreement`)."""

from . import agreement, series, timeseries

__all__ = ["agreement", "series", "timeseries"]
