"""The `lstmfast` command: parsing, every error path of `forecast --csv`, `--plot` without
matplotlib, and quick runs of each subcommand (all in-process and small, except one
subprocess run that checks `python -m lstmfast` end to end)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from lstmfast.app.cli import build_parser, main
from lstmfast.app.forecast_experiment import MIN_TRAIN_WINDOWS, MIN_VALID

COMMANDS = ("demo", "forecast", "agreement", "gradients", "cell", "bench")
PLOT_HINT = 'pip install "lstmfast[plot]"'


def run(capsys, *argv):
    """main(argv) in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("lstmfast forecast: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# --------------------------------------------------------------------------- parsing


def test_top_level_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help_with_seed(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: lstmfast {command}")
    assert "--seed" in out


@pytest.mark.parametrize("command", ["forecast", "agreement", "gradients", "cell"])
def test_commands_with_pictures_have_plot(capsys, command):
    _, out, _ = run(capsys, command, "--help")
    assert "--plot FILE.png" in out


def test_version_and_missing_command(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("lstmfast ")
    code, _, err = run(capsys)
    assert code == 2 and "COMMAND" in err


def test_defaults_and_typed_options():
    parser = build_parser()
    args = parser.parse_args(["forecast"])
    assert (args.data, args.csv, args.split, args.window, args.seed) == ("sunspots", None, None, 12, 0)
    assert parser.parse_args(["forecast", "--split", "0.75"]).split == 0.75
    assert parser.parse_args(["forecast", "--split", "-40"]).split == -40
    args = parser.parse_args(["agreement", "--distances", "1,5,40", "--forget-bias=-1,3", "--seed", "3"])
    assert args.distances == (1, 5, 40) and args.forget_biases == (-1.0, 3.0) and args.seed == 3
    assert args.seeds is None and not args.full  # None: the quick or the full run's value
    args = parser.parse_args(["agreement", "--full", "--cells", "rnn,gru", "--rnn-init", "identity"])
    assert args.full and args.cells == ["rnn", "gru"] and args.rnn_inits == ["identity"]
    args = parser.parse_args(["gradients", "--no-train", "--forget-bias", "3"])
    assert args.no_train and args.forget_biases == (3.0,) and args.length == 102
    assert parser.parse_args(["bench", "--shapes", "tiny,long"]).shapes == ["tiny", "long"]
    assert parser.parse_args(["demo", "--quick"]).quick


@pytest.mark.parametrize(
    "argv",
    [
        ["forecast", "--window", "0"],
        ["forecast", "--epochs", "x"],
        ["forecast", "--lr", "-1"],
        ["forecast", "--split", "1.5"],
        ["forecast", "--seed", "-1"],
        ["forecast", "--data", "nope"],
        ["forecast", "--data", "co2", "--csv", "f.csv"],
        ["agreement", "--distances", "1,0"],
        ["agreement", "--attractor-prob", "2"],
        ["agreement", "--cells", "lstm,tree"],
        ["agreement", "--rnn-init", "random"],
        ["agreement", "--forget-bias", "a"],
        ["gradients", "--explode-radius", "0"],
        ["bench", "--shapes", "huge"],
        ["bench", "--modes", "sideways"],
        ["demo", "--nope"],
    ],
)
def test_bad_options_exit_2_with_usage(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "usage: lstmfast" in err and "error:" in err and "Traceback" not in err


def test_column_without_csv_is_an_error(capsys):
    code, _, err = run(capsys, "forecast", "--column", "value")
    assert code == 2
    assert_one_line_error(err, "--column, --columns and --delimiter go with --csv")


# --------------------------------------------------------------------------- forecast --csv: errors


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def series_csv(n, header="year,value", start=1900):
    values = 50 + 40 * np.sin(np.arange(n) / 3.0)
    return header + "\n" + "".join(f"{start + k},{v:.3f}\n" for k, v in enumerate(values))


@pytest.mark.parametrize(
    "case, fragments",
    [
        ("missing", ["no such file"]),
        ("directory", ["is a directory"]),
        ("binary", ["not a text CSV file"]),
        ("latin1", ["not a UTF-8 text file"]),
        ("empty", ["the file is empty"]),
        ("comments_only", ["the file is empty"]),
        ("numeric_header", ["expected a header row", "got numbers"]),
        ("missing_column", ["no column 'sunspots'", "available: 'year', 'value'"]),
        ("several_columns", ["2 columns; choose one with --column", "'year', 'value'"]),
        ("non_numeric", ["line 4", "non-numeric value 'abc'"]),
        ("empty_cell", ["line 3", "missing value (empty)"]),
        ("nan", ["line 5", "missing value ('NaN')"]),
        ("infinite", ["line 2", "non-finite value 'inf'"]),
        ("short_row", ["line 3", "1 field(s)"]),
        ("header_only", ["has no values"]),
        ("too_short", ["too short: 20 values", "at least"]),
        ("bad_quote", ["not a valid CSV file"]),
    ],
)
def test_forecast_csv_errors_are_one_line_exit_2(capsys, tmp_path, case, fragments):
    files = {
        "missing": lambda: str(tmp_path / "nope.csv"),
        "directory": lambda: str(tmp_path),
        "binary": lambda: write(tmp_path, "x.csv", b"PK\x03\x04\x00\x00binary", "wb"),
        "latin1": lambda: write(tmp_path, "x.csv", "value\n1\n\xe9t\xe9\n".encode("latin-1"), "wb"),
        "empty": lambda: write(tmp_path, "x.csv", ""),
        "comments_only": lambda: write(tmp_path, "x.csv", "# nothing here\n\n"),
        "numeric_header": lambda: write(tmp_path, "x.csv", "1,2\n3,4\n"),
        "missing_column": lambda: write(tmp_path, "x.csv", series_csv(50)),
        "several_columns": lambda: write(tmp_path, "x.csv", series_csv(50)),
        "non_numeric": lambda: write(tmp_path, "x.csv", "value\n1\n2\nabc\n4\n"),
        "empty_cell": lambda: write(tmp_path, "x.csv", "year,value\n1,1\n2,\n3,3\n"),
        "nan": lambda: write(tmp_path, "x.csv", "value\n1\n2\n3\nNaN\n"),
        "infinite": lambda: write(tmp_path, "x.csv", "value\ninf\n2\n"),
        "short_row": lambda: write(tmp_path, "x.csv", "year,value\n1,1\n2\n3,3\n"),
        "header_only": lambda: write(tmp_path, "x.csv", "value\n"),
        "too_short": lambda: write(tmp_path, "x.csv", series_csv(20)),
        "bad_quote": lambda: write(tmp_path, "x.csv", 'value\n1\n"2"x\n'),
    }
    column = {
        "missing_column": ["--column", "sunspots"],
        "empty_cell": ["--column", "value"],
        "short_row": ["--column", "value"],
        "too_short": ["--column", "value"],
    }
    argv = ["forecast", "--csv", files[case](), *column.get(case, [])]
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert out == ""
    assert_one_line_error(err, *fragments)


def test_too_short_message_names_the_minimum_and_the_minimum_works(capsys, tmp_path):
    from lstmfast.app.forecast_experiment import minimum_length

    need = minimum_length(6)
    path = write(tmp_path, "short.csv", series_csv(need - 1))
    code, _, err = run(capsys, "forecast", "--csv", path, "--column", "value", "--window", "6")
    assert code == 2
    assert_one_line_error(
        err,
        f"{need - 1} values",
        f"at least {need} are needed",
        f"{MIN_TRAIN_WINDOWS} windows",
        f"{MIN_VALID} to validate",
    )
    path = write(tmp_path, "ok.csv", series_csv(need))
    code, out, err = run(capsys, "forecast", "--csv", path, "--column", "value", "--window", "6", "--epochs", "1")
    assert code == 0, err
    assert "LSTM" in out


def test_split_that_leaves_no_validation_is_one_line(capsys, tmp_path):
    path = write(tmp_path, "x.csv", series_csv(60))
    code, _, err = run(capsys, "forecast", "--csv", path, "--column", "value", "--split", "58")
    assert code == 2
    assert_one_line_error(err, "--split 58", "validation period 2")


def test_diverging_training_is_one_line(capsys, monkeypatch):
    from lstmfast.training.model import SequenceModel

    def diverge(self, *args, **kwargs):
        raise FloatingPointError(
            "fit: the loss became nan at epoch 1, batch 3; lower the learning rate or pass clip_norm"
        )

    monkeypatch.setattr(SequenceModel, "fit", diverge)
    code, _, err = run(capsys, "forecast", "--lr", "1e6")
    assert code == 2
    assert_one_line_error(err, "lower the learning rate")


def test_forecast_on_a_user_csv(capsys, tmp_path):
    text = "# my data\n" + series_csv(80, header="year;value").replace(",", ";")
    path = write(tmp_path, "mine.csv", text)
    code, out, err = run(capsys, "forecast", "--csv", path, "--column", "value", "--epochs", "2", "--seed", "1")
    assert code == 0, err
    assert "column 'value' of" in out and "train 0..63 (64 values)" in out
    for method in ("LSTM", "naive (last value)", "moving average"):
        assert method in out


def test_forecast_single_column_csv_needs_no_column(capsys, tmp_path):
    path = write(tmp_path, "one.csv", "\ufeffvalue\n" + "".join(f"{v}\n" for v in range(1, 61)))
    code, out, err = run(capsys, "forecast", "--csv", path, "--epochs", "1")
    assert code == 0, err
    assert "LSTM" in out


def test_python_m_lstmfast_error_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lstmfast", "forecast", "--csv", str(tmp_path / "none.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == f"lstmfast forecast: error: {tmp_path / 'none.csv'}: no such file"


# --------------------------------------------------------------------------- --plot


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make `import matplotlib...` fail as if it were not installed."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(
    "argv",
    [
        ["forecast"],
        ["agreement"],
        ["gradients"],
        ["forecast", "--csv", "whatever.csv", "--column", "v"],
    ],
)
def test_plot_without_matplotlib_says_how_to_install(capsys, no_matplotlib, tmp_path, argv):
    code, out, err = run(capsys, *argv, "--plot", str(tmp_path / "p.png"))
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and PLOT_HINT in lines[0] and "Traceback" not in err
    assert not (tmp_path / "p.png").exists()


def test_plot_bad_format_or_folder(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, _, err = run(capsys, "forecast", "--plot", str(tmp_path / "p.nope"))
    assert code == 2 and "unknown picture format .nope" in err
    code, _, err = run(capsys, "forecast", "--plot", str(tmp_path / "missing" / "p.png"))
    assert code == 2 and "does not exist" in err


def test_forecast_plot_is_written(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "forecast.png"
    code, out, err = run(capsys, "forecast", "--epochs", "2", "--plot", str(path))
    assert code == 0, err
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert f"picture: {path}" in out


# --------------------------------------------------------------------------- quick runs


def test_demo_quick_prints_every_section(capsys):
    code, out, err = run(capsys, "demo", "--quick")
    assert code == 0, err
    for k, words in enumerate(["NumPy reference", "training step", "sunspots", "agreement", "gradients"], 1):
        heading = next(line for line in out.splitlines() if line.startswith(f"{k}. "))
        assert words.lower() in heading.lower(), heading
    assert out.count("=> ") == 5
    assert "demo finished in" in out
    assert "FAILED" not in out and "DISAGREEMENT" not in out


TINY_AGREEMENT = ["--train-size", "60", "--epochs", "1", "--seeds", "2", "--distances", "3,6", "--test-size", "20"]


def test_agreement_tiny_run_writes_json_and_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path, picture = tmp_path / "agreement.json", tmp_path / "agreement.png"
    code, out, err = run(
        capsys, "agreement", *TINY_AGREEMENT, "--hidden", "4", "--json", str(path), "--plot", str(picture)
    )
    assert code == 0, err
    for words in (
        "vanilla RNN",
        "orthogonal W_aa",
        "forget bias +3",
        "forget bias +0",
        "baseline: last noun",
        "chance",
    ):
        assert words in out, words
    assert "seed 1, distance   6" in err  # a line per model on stderr
    document = json.loads(path.read_text())
    assert len(document["results"]) == 4 * 2 * 2 * 3
    first = document["results"][0]
    assert {k: first[k] for k in ("cell", "forget_bias", "train_distance", "test_distance", "seed")} == {
        "cell": "rnn",
        "forget_bias": None,
        "train_distance": 3,
        "test_distance": 3,
        "seed": 0,
    }
    assert document["machine"]["cpu"] and document["seconds"] >= 0
    assert picture.read_bytes()[:4] == b"\x89PNG"
    assert f"numbers: {path}" in out and f"picture: {picture}" in out


def test_agreement_from_json_reports_and_draws_without_training(capsys, tmp_path):
    path = tmp_path / "a.json"
    code, first, err = run(capsys, "agreement", *TINY_AGREEMENT, "--hidden", "4", "--json", str(path), "--quiet")
    assert code == 0, err
    code, again, err = run(capsys, "agreement", "--from-json", str(path))
    assert code == 0, err
    table = first[: first.index("finished in")].rstrip()
    assert again.rstrip().endswith(table.split("\n", 3)[-1])  # the same table and conclusions
    document = json.loads(path.read_text())
    del document["results"][0]
    path.write_text(json.dumps(document))
    code, _, err = run(capsys, "agreement", "--from-json", str(path))
    assert code == 2 and "has not 2 seeds" in err
    path.write_text("[1, 2]")
    code, _, err = run(capsys, "agreement", "--from-json", str(path))
    assert code == 2 and "expected a JSON object" in err


def test_agreement_full_flag_takes_the_full_runs_values_unless_given(capsys, monkeypatch):
    from lstmfast.app import agreement_experiment as ae

    seen = []

    def fake(config, progress=None, scheduler=None, workers=2):
        seen.append(config)
        raise ValueError("stop here")

    monkeypatch.setattr(ae, "agreement_experiment", fake)
    code, _, err = run(capsys, "agreement", "--full", "--seeds", "3", "--quiet")
    assert code == 2 and "stop here" in err
    assert seen[0] == dataclasses.replace(ae.FULL, seeds=3)
    run(capsys, "agreement", "--cells", "lstm", "--forget-bias", "1", "--quiet")
    assert seen[1] == dataclasses.replace(ae.QUICK, cells=("lstm",), forget_biases=(1.0,))


def test_json_to_a_missing_folder_fails_before_training(capsys, tmp_path):
    code, _, err = run(capsys, "agreement", "--json", str(tmp_path / "no" / "x.json"))
    assert code == 2 and "the folder" in err and "does not exist" in err
    code, _, err = run(capsys, "gradients", "--json", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_gradients_no_train_run_writes_json(capsys, tmp_path):
    path = tmp_path / "g.json"
    code, out, err = run(capsys, "gradients", "--no-train", "--length", "30", "--probe-size", "8", "--json", str(path))
    assert code == 0, err
    assert "at initialisation" in out and "constant error carousel" in out and "Clipping bounds the update" in out
    curves = json.loads(path.read_text())["curves"]
    assert {c["variant"] for c in curves} == {"standard", "exploding", "carousel"}
    assert all(len(c["norms"]) == 30 for c in curves)


def test_gradients_tiny_trained_run(capsys):
    code, out, err = run(
        capsys,
        "gradients",
        "--length",
        "12",
        "--train-size",
        "60",
        "--epochs",
        "1",
        "--hidden",
        "4",
        "--probe-size",
        "4",
    )
    assert code == 0, err
    assert "after training" in out and "probe accuracy" in out and "trained RNN" in out


def test_gradients_length_out_of_range(capsys):
    code, _, err = run(capsys, "gradients", "--length", "3")
    assert code == 2 and "length: expected 5 <= length" in err


def test_cell_prints_the_equations_and_draws(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    picture = tmp_path / "cell.png"
    code, out, err = run(capsys, "cell", "--plot", str(picture))
    assert code == 0, err
    assert "c<t> = Γf * c<t-1> + Γu * c~<t>" in out and "a<t> = Γo * tanh(c<t>)" in out
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_bench_tiny_run(capsys):
    code, out, err = run(
        capsys, "bench", "--shapes", "tiny", "--modes", "inference", "--no-torch", "--budget", "0.02", "--threads", "1"
    )
    assert code == 0, err
    assert "lstmfast" in out and "numpy" in out and "checked against the NumPy reference" in out
    assert "PyTorch: skipped" in out


def test_every_command_line_in_the_readme_parses():
    """The command lines the README shows (in its command and lessons sections) are ones the
    parser accepts: a renamed or removed option fails here."""
    import pathlib
    import shlex

    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    lines = [line.strip() for line in readme.splitlines() if line.startswith("    lstmfast ")]  # the code blocks
    assert len(lines) >= 10
    parser = build_parser()
    for line in lines:
        argv = shlex.split(line.split("#")[0])[1:]
        parser.parse_args(argv)  # SystemExit (exit 2) on an unknown option


def test_a_closed_pipe_ends_quietly():
    """lstmfast ... | true: the reader is gone before the first line (true exits at
    once, lstmfast takes a while to start); no traceback, the shell's SIGPIPE code."""
    import subprocess
    import sys

    done = subprocess.run(
        f"{sys.executable} -m lstmfast forecast --epochs 1 | true; echo ${{PIPESTATUS[0]}}",
        shell=True,
        capture_output=True,
        text=True,
        executable="/bin/bash",
    )
    assert done.stdout.strip() == "141", (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
