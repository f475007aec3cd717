"""The agreement experiment (``lstmfast agreement``): its design, its statistics, and the
lecture's picture it must show.

What is checked, and how hard:

* The effect on the default's own models (fast): seeds 0-2 of the quick default, the
  vanilla RNN and the LSTM with forget bias +3, at distances 10 and 80. Every model of the
  experiment depends only on (variant, distance, seed), so these are exactly the default
  run's models for those seeds. The criteria are the issue's: at 80 the RNN's median <= 0.65
  and the LSTM's >= 0.95; at 10 both >= 0.9. Measured (AMD EPYC, AVX-512): RNN 0.51, 0.47,
  0.51 at 80 and 1.00 at 10; LSTM+3 1.00, 1.00, 1.00 at 80 and 1.00 at 10. Margins: the RNN
  sits at chance (0.5) 0.15 below its bound; the LSTM's worst seed of 5 was 0.98.
* The whole quick default and the full run (slow), and the JSON of real runs committed
  in docs/results (fast: read and checked; and, on the machine's instruction set, the
  re-run seeds must reproduce the committed accuracies exactly).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from lstmfast import config as kernel
from lstmfast.app import agreement_experiment as ae
from lstmfast.app.agreement_experiment import (
    FULL,
    QUICK,
    AgreementConfig,
    Variant,
    agreement_experiment,
    evaluation_distances,
    variants,
    wilson_interval,
)

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "results"


@pytest.fixture(scope="module")
def effect():
    """Seeds 0-2 of the quick default, the RNN and the LSTM with forget bias +3 (about 20 s)."""
    return agreement_experiment(QUICK, seeds=3, forget_biases=(3.0,), rnn_inits=("pytorch",))


def lecture_checks(records, far, near):
    """The issue's criteria on JSON records, computed here from the raw accuracies."""

    def median(variant, d):
        return float(
            np.median(
                [
                    r["accuracy"]
                    for r in records
                    if r["variant"] == variant and r["train_distance"] == d and r["test_distance"] == d
                ]
            )
        )

    return {
        "rnn far": median("rnn", far),
        "lstm+3 far": median("lstm+3", far),
        "rnn near": median("rnn", near),
        "lstm+3 near": median("lstm+3", near),
    }


def assert_lecture_picture(m):
    assert m["rnn far"] <= 0.65, m
    assert m["lstm+3 far"] >= 0.95, m
    assert m["rnn near"] >= 0.9 and m["lstm+3 near"] >= 0.9, m


# --------------------------------------------------------------------------- the effect


def test_default_models_show_the_lecture_picture(effect):
    m = lecture_checks(effect.records, 80, 10)
    assert_lecture_picture(m)
    assert all(effect.lecture_holds().values()), effect.lecture_holds()
    assert "lecture's picture: shown" in effect.verdict()
    # every seed, not just the median: the RNN never solves distance 80, the LSTM always does
    assert effect.solved("rnn", 80) == (0, 3) and effect.solved("lstm+3", 80) == (3, 3)


def test_default_models_match_the_committed_quick_run(effect):
    """The committed JSON is a real run of `lstmfast agreement --json`: its seeds 0-2 must be
    these models' accuracies, bit for bit, when run on the same instruction set (another ISA
    rounds differently, and training amplifies it)."""
    document = json.loads((RESULTS / "agreement_quick.json").read_text())
    if document["machine"]["isa"] != kernel.kernel_config()["isa"]:
        pytest.skip(f"committed on {document['machine']['isa']}, running {kernel.kernel_config()['isa']}")
    committed = {
        (r["variant"], r["train_distance"], r["test_distance"], r["seed"]): r["accuracy"] for r in document["results"]
    }
    for r in effect.records:
        assert committed[(r["variant"], r["train_distance"], r["test_distance"], r["seed"])] == r["accuracy"], r


@pytest.mark.parametrize(
    "name,distances,seeds", [("agreement_quick.json", (10, 80), 5), ("agreement_full.json", (5, 10, 20, 40, 80), 10)]
)
def test_committed_runs_show_the_lecture_picture(name, distances, seeds):
    """The JSON of the real default and --full runs (docs/results): the format the issue
    asks for, one record per model and test distance, and the criteria at the shortest and
    longest distance, recomputed here from the raw accuracies."""
    document = json.loads((RESULTS / name).read_text())
    records = document["results"]
    keys = {"cell", "forget_bias", "train_distance", "test_distance", "seed", "accuracy"}
    for r in records:
        assert keys <= set(r), r
        assert r["cell"] in ("rnn", "lstm", "gru")
        assert (r["forget_bias"] is None) == (r["cell"] != "lstm")
        assert (
            isinstance(r["train_distance"], int) and isinstance(r["test_distance"], int) and isinstance(r["seed"], int)
        )
        assert 0.0 <= r["accuracy"] <= 1.0
    assert sorted({r["train_distance"] for r in records}) == list(distances)
    assert len({r["seed"] for r in records}) == seeds
    n_models = len({(r["variant"], r["train_distance"], r["seed"]) for r in records})
    assert len(records) == 3 * n_models  # tested at d, d+1 and 2d
    assert_lecture_picture(lecture_checks(records, max(distances), min(distances)))
    assert all(document["lecture_holds"].values())


# --------------------------------------------------------------------------- design and statistics


def test_variants_from_the_cell_records():
    got = [v.key for v in variants(FULL)]
    assert got == ["rnn", "rnn-orthogonal", "rnn-identity", "lstm+3", "lstm+0", "gru"]
    assert [v.label for v in variants(QUICK)] == [
        "vanilla RNN",
        "vanilla RNN, orthogonal W_aa",
        "LSTM, forget bias +3",
        "LSTM, forget bias +0",
    ]
    assert Variant("lstm", forget_bias=-1.5).key == "lstm-1.5"
    assert evaluation_distances(10) == (10, 11, 20)
    assert FULL.seeds >= 10 and QUICK.seeds >= 5


def test_wilson_interval_against_published_values():
    """Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score,
    without continuity correction), to the four decimals published."""
    for (k, n), (lo, hi) in {
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
        (0, 20): (0.0, 0.1611),
        (1, 29): (0.0061, 0.1718),
    }.items():
        got = wilson_interval(k, n)
        assert got[0] == pytest.approx(lo, abs=5e-5) and got[1] == pytest.approx(hi, abs=5e-5), (k, n, got)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 10)[0] == 0.0
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


def test_tiny_run_records_baselines_and_determinism():
    cfg = AgreementConfig(hidden=4, train_size=60, distances=(1, 6), test_size=20, epochs=1, seeds=2, seed=7)
    r = agreement_experiment(cfg, keep_models=True)
    assert len(r.records) == 4 * 2 * 2 * 3  # variants x distances x seeds x test distances
    assert {r_["seed"] for r_ in r.records} == {7, 8}
    assert {r_["test_distance"] for r_ in r.records} == {1, 2, 6, 7, 12}
    assert set(r.last_noun) == {1, 2, 6, 7, 12}
    assert r.last_noun[1] == r.last_noun[2] == 1.0  # no noun fits in 1 or 2 words: the last noun is the subject
    assert r.chance == 0.5
    assert set(r.models) == {(v.key, d) for v in variants(cfg) for d in (1, 6)}
    # the orthogonal start really is orthogonal, before training
    model = ae.SequenceModel(5, 4, cell="rnn", seed=1)
    ae._recurrent_start(model, Variant("rnn", rnn_init="orthogonal"), 1)
    w = model.parameters()["rnn.weight_hh_l0"].astype(np.float64)
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-6)  # float32 entries: ~1e-7 rounding
    ae._recurrent_start(model, Variant("rnn", rnn_init="identity"), 1)
    np.testing.assert_array_equal(model.parameters()["rnn.weight_hh_l0"], np.eye(4))
    text = r.summary()
    assert "baseline: last noun" in text and "chance" in text and "d / d+1 / 2d" in text
    doc = r.to_json()
    assert doc["results"] == r.records and list(doc["config"]["distances"]) == [1, 6]
    row = doc["summary"][0]
    assert {"median", "solved", "solved_ci95", "seeds"} <= set(row)
    json.dumps(doc, allow_nan=False)
    again = agreement_experiment(cfg)
    assert [x["accuracy"] for x in again.records] == [x["accuracy"] for x in r.records]
    # every variant at a seed and distance saw the same training sentences
    assert len(r.accuracies("rnn", 6)) == len(r.accuracies("lstm+3", 6)) == 2


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"distances": ()}, "distances: expected at least one"),
        ({"distances": (600,)}, "distances: expected 1 <= distance <= 500"),
        ({"cells": ("tree",)}, "cells: expected one of"),
        ({"rnn_inits": ("random",)}, "rnn_inits: expected one of"),
        ({"forget_biases": (3.0, 3.0)}, "each model once"),
        ({"cells": ("lstm",), "forget_biases": ()}, "nothing to train"),
        ({"seeds": 0}, "seeds: expected a positive int"),
        ({"attractor_prob": 1.5}, "attractor_prob"),
    ],
)
def test_bad_configurations(overrides, message):
    with pytest.raises(ValueError, match=message):
        agreement_experiment(QUICK, **overrides)


def test_plot_draws_every_seed(tmp_path):
    pytest.importorskip("matplotlib")
    from lstmfast.app.plotting import plot_agreement

    cfg = AgreementConfig(hidden=4, train_size=40, distances=(3, 6), test_size=10, epochs=1, seeds=2)
    path = tmp_path / "agreement.png"
    assert plot_agreement(agreement_experiment(cfg), str(path)) == str(path)
    assert path.read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- full size (slow)


@pytest.mark.slow
def test_quick_default_shows_the_effect_within_three_minutes():
    import time

    start = time.perf_counter()
    r = agreement_experiment()
    seconds = time.perf_counter() - start
    assert all(r.lecture_holds().values()), r.summary()
    assert seconds < 180, seconds


@pytest.mark.slow
def test_full_run_shows_the_effect():
    r = agreement_experiment(FULL)
    assert all(r.lecture_holds().values()), r.summary()
