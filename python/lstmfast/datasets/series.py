"""The series a forecast runs on: the built-in ones, or one column of a user's CSV file.

:func:`builtin_series` returns the shipped series with the split the experiments
use by default; :func:`read_csv_series` reads one numeric column of a CSV file and
turns every problem with the file into a :class:`SeriesError` with a one-line
message (the command prints it as is; no traceback).
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import _checks
from . import timeseries as ts

__all__ = ["BUILTIN_SERIES", "Series", "SeriesError", "builtin_series", "read_csv_columns", "read_csv_series"]

#: Names accepted by :func:`builtin_series`.
BUILTIN_SERIES = ("sunspots", "sunspots-monthly", "synthetic", "co2")

# Delimiters recognised when sniffing a CSV file (comma is the fallback).
_DELIMITERS = ",;\t|"
# Missing-value spellings we name explicitly in the error message.
_MISSING = {"", "na", "n/a", "nan", "null", "none", "-", "?"}


#: The largest CSV file read (a series of tens of millions of values).
MAX_CSV_BYTES = 1 << 30


class SeriesError(ValueError):
    """A series that cannot be used (bad file, missing column, NaN, too short, ...).

    The message is one line, meant for the user as is.
    """


@dataclass(frozen=True)
class Series:
    """A univariate series and what the experiments need to know about it.

    Attributes
    ----------
    name : str
        Short name for reports ("sunspots", a file name, ...).
    values : numpy.ndarray, (N,)
        Finite float64 values, in time order.
    time : numpy.ndarray, (N,)
        A label for each value (years, days, dates or row numbers), for tables and plots.
    split_time : int or None
        The default first index of the validation period (None: 80 % for training).
    season : int or None
        Steps per season, if the series has a known one (enables the seasonal-naive baseline).
    description : str
        One line: what the series is and where it comes from.
    time_label : str
        What ``time`` counts ("year", "day", "week", "row").
    """

    name: str
    values: np.ndarray
    time: np.ndarray
    split_time: int | None = None
    season: int | None = None
    description: str = ""
    time_label: str = "step"

    def __len__(self) -> int:
        return len(self.values)


def builtin_series(name: str) -> Series:
    """One of :data:`BUILTIN_SERIES`, with its default split.

    * ``"sunspots"``: yearly mean sunspot numbers 1700–2008; training 1700–1949,
      validation 1950–2008 (five solar cycles).
    * ``"sunspots-monthly"``: monthly means 1749-01 to 2009-06 (3126 values), split at
      3000 as the course splits its longer monthly file (validation 1999-01 to 2009-06);
      season 132 months, the 11-year cycle.
    * ``"synthetic"``: the course's four years of daily data (trend + season + noise),
      split at day 1000 as in the course.
    * ``"co2"``: weekly Mauna Loa CO2 1958–2001 (the 59 missing weeks interpolated),
      training up to the end of 1989.
    """
    if name == "sunspots":
        years, values = ts.load_sunspots()
        return Series(
            "sunspots",
            values,
            years,
            split_time=int(np.searchsorted(years, 1950)),
            season=11,
            description="yearly mean sunspot numbers, 1700-2008 (SIDC, via statsmodels)",
            time_label="year",
        )
    if name == "sunspots-monthly":
        months, values = ts.load_sunspots_monthly()
        return Series(
            "sunspots-monthly",
            values,
            months,
            split_time=3000,
            season=132,
            description="monthly mean sunspot numbers, 1749-01 to 2009-06 (SIDC version 1, via statsmodels)",
            time_label="month",
        )
    if name == "synthetic":
        days, values = ts.synthetic_series()
        return Series(
            "synthetic",
            values,
            days.astype(np.int64),
            split_time=ts.COURSE_SPLIT_TIME,
            season=365,
            description="the course's synthetic daily series: trend + yearly season + noise (seed 42)",
            time_label="day",
        )
    if name == "co2":
        dates, values = ts.load_co2(interpolate=True)
        split = int(np.searchsorted(dates, np.datetime64("1990-01-01")))
        return Series(
            "co2",
            values,
            dates,
            split_time=split,
            season=52,
            description="weekly CO2 at Mauna Loa, ppmv, 1958-2001 (missing weeks interpolated)",
            time_label="week",
        )
    raise SeriesError(f"unknown built-in series {name!r}; choose one of {', '.join(BUILTIN_SERIES)}")


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _strip_comments(lines: list[str]) -> list[tuple[int, str]]:
    """(line number, text) of the lines that are neither blank nor '#' comments."""
    return [(k, line) for k, line in enumerate(lines, start=1) if line.strip() and not line.lstrip().startswith("#")]


# A decimal number as CSV files write them (Python's float() would also take
# "1_0" as 10, and words like "infinity").
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text.strip()) is not None


def read_csv_series(path: str, column: str | None = None, *, delimiter: str | None = None) -> Series:
    """One numeric column of a CSV file, as a :class:`Series`.

    The first line that is neither blank nor a ``#`` comment is the header (the
    column names). The delimiter (comma, semicolon, tab or ``|``) is detected unless
    given. Every value of the column must be a finite number: missing cells, NaN
    and text are refused (fill or drop them first), never silently skipped, because
    a gap would shift every later value by one step.

    Parameters
    ----------
    path : str
        The file.
    column : str, optional
        The column's name; may be left out when the file has a single column.
    delimiter : str, optional
        One character; default: detected.

    Raises
    ------
    SeriesError
        With a one-line message for: a missing or unreadable file, a file that is
        not text, an empty file, a header naming no column, a missing column (the
        message lists the available ones), a row with too few fields, a missing,
        NaN, infinite or non-numeric value (with its line number).
    """
    table = _Table(path, delimiter)
    if column is None:
        if len(table.header) != 1:
            raise SeriesError(
                f"{table.where}: {len(table.header)} columns; choose one with --column (available: {table.available})"
            )
        return table.series(0)
    return table.series(table.index(column))


def read_csv_columns(
    path: str, columns: Sequence[str] | None = None, *, delimiter: str | None = None
) -> tuple[dict[str, Series], list[str]]:
    """Several numeric columns of a CSV file (a "wide" file: one series per column),
    read as :func:`read_csv_series` reads one.

    ``columns``: their names; None: every column whose first value is a number (a
    column of dates or labels is left out and named in the second value returned;
    a numeric column with a bad value further down is an error, as always).
    Returns ``({name: Series}, [names left out])``.
    """
    table = _Table(path, delimiter)
    if columns is not None:
        return {name: table.series(table.index(name)) for name in columns}, []
    first = table.rows[1][1] if len(table.rows) > 1 else []
    chosen = [k for k, name in enumerate(table.header) if name and k < len(first) and _is_number(first[k])]
    if not chosen:
        raise SeriesError(f"{table.where}: no column starts with a number (columns: {table.available})")
    left_out = [name for k, name in enumerate(table.header) if k not in chosen]
    return {table.header[k]: table.series(k) for k in chosen}, left_out


class _Table:
    """A CSV file's header and rows, checked (see :func:`read_csv_series`)."""

    def __init__(self, path: str, delimiter: str | None) -> None:
        try:
            where, raw = _checks.read_file(path, "a CSV file of series", MAX_CSV_BYTES)
        except (OSError, ValueError) as err:
            raise SeriesError(str(err)) from None
        if b"\x00" in raw:
            raise SeriesError(f"{where}: not a text CSV file (it contains NUL bytes; is it binary?)")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise SeriesError(f"{where}: not a UTF-8 text file (undecodable byte at offset {err.start})") from None

        lines = _strip_comments(text.splitlines())
        if not lines:
            raise SeriesError(f"{where}: the file is empty (no header, no values)")
        if delimiter is None:
            delimiter = _sniff_delimiter("\n".join(line for _, line in lines[:20]))
        elif len(delimiter) != 1:
            raise SeriesError(f"delimiter: expected one character, got {delimiter!r}")
        try:
            parsed = list(csv.reader((line for _, line in lines), delimiter=delimiter, strict=True))
        except csv.Error as err:
            raise SeriesError(f"{where}: not a valid CSV file ({err})") from None
        self.where = where
        self.rows = list(zip((k for k, _ in lines), parsed))
        header_line, header = self.rows[0]
        self.header = [name.strip() for name in header]
        if not any(self.header):
            raise SeriesError(f"{where}: line {header_line}: the header row names no column")
        if all(_is_number(name) for name in self.header if name):
            raise SeriesError(
                f"{where}: line {header_line}: expected a header row naming the columns, "
                f"got numbers ({', '.join(self.header[:4])}); add a first line such as 'value'"
            )
        self.available = ", ".join(repr(name) for name in self.header)

    def index(self, column: str) -> int:
        if column not in self.header:
            raise SeriesError(f"{self.where}: no column {column!r}; available: {self.available}")
        return self.header.index(column)

    def series(self, index: int) -> Series:
        """Column ``index``, every value checked."""
        where, name = self.where, self.header[index]
        values = []
        for line_no, row in self.rows[1:]:
            if index >= len(row):
                raise SeriesError(
                    f"{where}: line {line_no}: {len(row)} field(s), but column {name!r} is field {index + 1} of "
                    f"the header"
                )
            cell = row[index].strip()
            if cell.lower() in _MISSING:
                shown = "empty" if cell == "" else repr(cell)
                raise SeriesError(
                    f"{where}: line {line_no}: column {name!r} has a missing value ({shown}); "
                    f"fill or drop missing values first"
                )
            if cell.lower().lstrip("+-") in ("inf", "infinity"):
                raise SeriesError(f"{where}: line {line_no}: column {name!r} has a non-finite value {cell!r}")
            if not _is_number(cell):
                raise SeriesError(f"{where}: line {line_no}: column {name!r} has a non-numeric value {cell[:40]!r}")
            value = float(cell)
            if not math.isfinite(value):
                raise SeriesError(f"{where}: line {line_no}: column {name!r} has a non-finite value {cell!r}")
            values.append(value)
        if not values:
            raise SeriesError(f"{where}: column {name!r} has no values (only a header)")
        label = os.path.basename(where)
        return Series(
            f"{label}:{name}",
            np.array(values, dtype=np.float64),
            np.arange(len(values)),
            description=f"column {name!r} of {where} ({len(values)} values)",
            time_label="row",
        )
