"""The numbers the README's "lessons" section quotes are the committed runs' (docs/results)
and the commands' own: a changed result that the README does not follow fails here."""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np
import pytest

from lstmfast.app.forecast_experiment import forecast

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def table_rows(header_start: str) -> list[list[str]]:
    """The cells of the markdown table whose header row starts with ``header_start``."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_agreement_table_is_the_full_run():
    document = json.loads((ROOT / "docs" / "results" / "agreement_full.json").read_text())
    keys = {
        "vanilla RNN": "rnn",
        "RNN, orthogonal W_aa": "rnn-orthogonal",
        "RNN, identity W_aa": "rnn-identity",
        "LSTM, forget bias +3": "lstm+3",
        "LSTM, forget bias 0": "lstm+0",
        "GRU": "gru",
    }
    rows = table_rows("| trained at d")
    assert len(rows) == 7
    for label, *cells in rows[:6]:
        variant = keys[label]
        for d, cell in zip((5, 10, 20, 40, 80), cells):
            medians = [float(v) for v in re.findall(r"\d\.\d\d", cell.replace("**", ""))]
            solved = int(re.search(r"\((\d+)\)", cell).group(1))
            acc = {
                t: [
                    r["accuracy"]
                    for r in document["results"]
                    if r["variant"] == variant and r["train_distance"] == d and r["test_distance"] == t
                ]
                for t in (d, d + 1, 2 * d)
            }
            assert medians == [round(float(np.median(acc[t])), 2) for t in (d, d + 1, 2 * d)], (label, d)
            assert solved == sum(a >= 0.95 for a in acc[d]), (label, d)


def test_gradient_table_is_the_committed_run():
    document = json.loads((ROOT / "docs" / "results" / "gradients.json").read_text())

    def back(cell, state, variant="standard", forget_bias=None):
        (c,) = [
            c
            for c in document["curves"]
            if (c["cell"], c["state"], c["variant"], c["trained"], c["forget_bias"])
            == (cell, state, variant, False, forget_bias)
        ]
        return c["norms"][len(c["norms"]) - 101] / c["norms"][-1]

    quoted = {row[0]: row[1:] for row in table_rows("| model | ∂L/∂a")}
    expected = {
        "vanilla RNN": (back("rnn", "a"), None),
        "GRU": (back("gru", "a"), None),
        "vanilla RNN, W_aa scaled to spectral radius 3 (exploding)": (back("rnn", "a", "exploding"), None),
    }
    for bias, name in ((0.0, "0"), (1.0, "+1"), (3.0, "+3"), (5.0, "+5")):
        expected[f"LSTM, forget bias {name}"] = (
            back("lstm", "a", forget_bias=bias),
            back("lstm", "c", forget_bias=bias),
        )
    for label, (a, c) in expected.items():
        cells = quoted[label]
        assert float(cells[0]) == pytest.approx(a, rel=0.05), label  # quoted to 2 significant digits
        if c is not None:
            assert float(cells[1]) == pytest.approx(c, rel=0.05), label


def test_sunspot_numbers_are_the_commands():
    r = forecast("sunspots")
    quoted = {"LSTM": 12.1, "naive (last value)": 25.5, "seasonal naive (11)": 27.4}
    for name, value in quoted.items():
        assert round(r.mae(name), 1) == value, name
    assert round(r.mae(r.baseline("differenced")), 1) == 17.9
    t = forecast("sunspots", test=-20)
    assert round(t.mae("LSTM", "test"), 2) == 9.15 and round(t.mae("naive (last value)", "test"), 1) == 22.0
    for number in ("12.1", "25.5", "27.4", "17.9", "9.15", "22.0"):
        assert number in README
