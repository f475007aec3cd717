"""The ``lstmfast`` command (also ``python -m lstmfast``).

    lstmfast demo                      the lecture's claims, measured, in about half a minute
    lstmfast forecast                  LSTM vs baselines on a series (built-in or --csv FILE)
    lstmfast agreement                 vanilla RNN vs LSTM on "the cat(s) ... was/were", by distance
    lstmfast gradients                 vanishing, exploding and constant error flow, measured
    lstmfast cell                      the LSTM cell's equations in the course's notation, and a picture
    lstmfast bench                     lstmfast vs the NumPy reference (and PyTorch if installed)

Exit codes: 0 success; 2 a bad argument or input (a one-line message on stderr, no
traceback); 1 ``--plot`` without matplotlib.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import inspect
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, Callable

from .. import _checks

__all__ = ["build_parser", "main"]

PROG = "lstmfast"
EXIT_INPUT = 2
EXIT_NO_MATPLOTLIB = 1


class CommandError(Exception):
    """A user-facing error: printed as one line, exit code ``code``."""

    def __init__(self, message: str, code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- argument types


def _checked(parse: Callable[[str], Any], check: Callable[[str, Any], Any], expected: str) -> Callable[[str], Any]:
    """An argparse type: ``parse`` the text, then apply the package's own check of
    such an argument (its message, less the argument's name, is argparse's)."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        try:
            return check("value", value)
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix("value: ")) from None

    return convert


_positive_int = _checked(int, _checks.positive_int, "a positive int")
_seed = _checked(int, lambda name, value: _checks.integer(name, value, 0), "an int >= 0")
_positive_float = _checked(float, _checks.positive_real, "a positive number")
_probability = _checked(float, lambda name, value: _checks.real(name, value, low=0.0, high=1.0), "a number in [0, 1]")


def _split(text: str) -> Any:
    """An index (int, negative counts from the end) or a training fraction in (0, 1)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an index or a fraction in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected an index or a fraction in (0, 1), got {text}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(_checks.real("value", float(v)) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def _name_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [v.strip() for v in text.split(",") if v.strip()]
        unknown = [n for n in names if n not in choices]
        if not names or unknown:
            raise argparse.ArgumentTypeError(f"expected comma-separated names from {', '.join(choices)}, got {text!r}")
        return names

    return parse


# --------------------------------------------------------------------------- the parser


class _HelpFormatter(argparse.HelpFormatter):
    """Shows "(default: ...)" for options that have a meaningful default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        value = action.default
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        return f"{text} (default: {value})"


def _command(commands: Any, name: str, summary: str, description: str, *, plot: str = "") -> argparse.ArgumentParser:
    """A command's parser with the options every command has: ``--seed``, and
    ``--plot`` if it can draw ``plot``."""
    p: argparse.ArgumentParser = commands.add_parser(
        name, formatter_class=_HelpFormatter, help=summary, description=description
    )
    p.add_argument("--seed", type=_seed, default=0, help="seed of data, initialisation and shuffling (default 0)")
    if plot:
        p.add_argument(
            "--plot",
            metavar="FILE.png",
            help=f'also draw {plot} into this file (needs matplotlib: pip install "lstmfast[plot]")',
        )
    return p


def _add_json(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", metavar="FILE.json", help=f"also write {what} to this file")


def _add_scheduler(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--scheduler",
        metavar="local|tcp://HOST:PORT",
        type=_scheduler,
        help=f"run {what} as Dask tasks: on an embedded cluster ('local') or a running one by its scheduler's "
        'address (pip install "lstmfast[dask]"); the results are those of a run here (default: here, one '
        "after another)",
    )
    p.add_argument("--workers", type=_positive_int, default=2, help="worker processes of --scheduler local (default 2)")


def _scheduler(text: str) -> str:
    if text != "local" and "://" not in text:
        raise argparse.ArgumentTypeError(f"expected 'local' or a scheduler address like tcp://HOST:8786, got {text!r}")
    return text


def _csv(values: Sequence[Any]) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from ..cells import CELLS
    from ..datasets.series import BUILTIN_SERIES
    from .agreement_experiment import FULL, QUICK, RNN_INITS
    from .forecast_experiment import LOSSES, ForecastConfig
    from .gradient_experiment import GradientConfig
    from .speed import BENCH_SHAPES

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fast CPU LSTM, GRU and RNN: see the lecture's ideas run, and measure them.",
        epilog="Run 'lstmfast COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(
        commands,
        "demo",
        "the main job: correctness, speed, forecasting, agreement, gradients",
        "Five short experiments on built-in data, in about half a minute: the C++ path agrees with "
        "the NumPy reference; its speed; an LSTM forecast of the sunspots with fixed partitioning vs "
        "the naive and moving-average baselines; vanilla RNN vs LSTM on 'the cat(s) ... was/were'; "
        "the gradient flow of both.",
    )
    p.add_argument("--quick", action="store_true", help="a much smaller version (a few seconds)")

    d = ForecastConfig()
    p = _command(
        commands,
        "forecast",
        "a recurrent forecaster vs fair baselines; learning-rate sweep; forecasts past the end",
        "Split a series by time, train an LSTM (or GRU, RNN, bidirectional) on windows of the training "
        "period (normalised with its statistics only), forecast the validation period one step ahead, "
        "and compare it with the naive, moving-average, seasonal-naive and differencing baselines, each "
        "parameter chosen on the training period by the model's own loss (the naive forecast is inside "
        "the moving-average search): MAE, RMSE, MAPE. --test adds a test period, scored after retraining "
        "on training + validation; --horizon N forecasts N steps past the end (after retraining on the "
        "whole series); --lr-sweep runs the course's learning-rate sweep instead.",
        plot="the forecasts against the actual values (with --lr-sweep: the loss against the rate)",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", choices=BUILTIN_SERIES, default="sunspots", help="a built-in series")
    src.add_argument("--csv", metavar="FILE", help="your own series: a CSV file with a header row")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--column", metavar="NAME", help="the column of --csv to forecast (needed if it has several)")
    which.add_argument(
        "--columns",
        metavar="all|C1,C2",
        help="forecast several columns of --csv, one model each: 'all' (every column whose first value is a "
        "number) or their names; prints one line per column, --out writes every forecast",
    )
    p.add_argument("--delimiter", metavar="CHAR", help="field separator of --csv (default: detected)")
    p.add_argument(
        "--split",
        type=_split,
        default=None,
        help="first validation index, or the training fraction like 0.8 (default: the series' own "
        "split, sunspots 1950; else 0.8)",
    )
    p.add_argument(
        "--test",
        type=_split,
        default=None,
        help="first test index (negative: from the end), or the fraction before it; the model is "
        "retrained on training + validation before it (default: no test period)",
    )
    p.add_argument("--cell", choices=tuple(CELLS), default=d.cell, help="recurrent cell of the forecaster")
    p.add_argument("--bidirectional", action="store_true", help="read each window in both directions")
    p.add_argument("--loss", choices=LOSSES, default=d.loss, help="training loss (huber: outliers pull less)")
    p.add_argument("--window", type=_positive_int, default=d.window, help="past values the model reads")
    p.add_argument("--hidden", type=_positive_int, default=d.hidden, help="hidden size")
    p.add_argument("--epochs", type=_positive_int, default=d.epochs, help="passes over the training windows")
    p.add_argument("--lr", type=_positive_float, default=d.lr, help="Adam learning rate")
    p.add_argument("--batch-size", type=_positive_int, default=d.batch_size, help="windows per step")
    p.add_argument(
        "--ma-window",
        type=_positive_int,
        default=None,
        help="moving-average window (default: the best of 1..50 on the training period; 1 is the naive forecast)",
    )
    p.add_argument(
        "--season",
        type=_positive_int,
        default=None,
        help="steps per season for the seasonal baselines (default: the series' own)",
    )
    p.add_argument(
        "--horizon",
        type=_positive_int,
        default=0,
        help="also forecast this many steps past the end of the series",
    )
    p.add_argument(
        "--out",
        metavar="FILE.csv",
        help="write the --horizon forecasts to this CSV file (time,forecast); with --columns, every forecast "
        "(column,period,time,actual,forecast)",
    )
    _add_scheduler(p, "the models of --columns")
    p.add_argument(
        "--lr-sweep",
        action="store_true",
        help="instead of forecasting: train --epochs epochs with the rate x10 every 10 epochs from 1e-5, "
        "print the loss per rate (and --plot it)",
    )

    q, f = QUICK, FULL
    p = _command(
        commands,
        "agreement",
        "vanilla RNN vs LSTM on 'the cat(s) ... was/were', by distance",
        "One model per distance d and seed, trained only on sentences with exactly d words between "
        "subject and verb (attractor nouns of the other number in between), every model on the same "
        "budget; tested on new sentences at d, d+1 and 2d. Compares the vanilla RNN (also from an "
        "orthogonal or identity W_aa), the LSTM at each forget-gate bias, and the GRU. Reports every "
        "seed, the median and the share of seeds reaching 95%% with its 95%% interval. The default "
        f"is a quick run ({q.seeds} seeds, distances {','.join(map(str, q.distances))}); --full runs "
        f"{f.seeds} seeds at distances {','.join(map(str, f.distances))} with the GRU and every RNN start.",
        plot="every seed's accuracy by distance, and the share of seeds that solve it",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help=f"the full run: {f.seeds} seeds, distances {','.join(map(str, f.distances))}, cells "
        f"{','.join(f.cells)}, RNN starts {','.join(f.rnn_inits)} (options given explicitly still apply)",
    )
    p.add_argument(
        "--distances", type=_int_list, metavar="D1,D2,...", help=f"training distances (default {_csv(q.distances)})"
    )
    p.add_argument("--seeds", type=_positive_int, help=f"seeds per distance and model (default {q.seeds})")
    p.add_argument(
        "--cells", type=_name_list(tuple(CELLS)), metavar="C1,C2", help=f"cells to compare (default {_csv(q.cells)})"
    )
    p.add_argument(
        "--forget-bias",
        dest="forget_biases",
        type=_float_list,
        metavar="B1,B2",
        help=f"the LSTM's forget-gate biases, one model each (default {_csv(q.forget_biases)}; "
        "negative: --forget-bias=-1,3)",
    )
    p.add_argument(
        "--rnn-init",
        dest="rnn_inits",
        type=_name_list(RNN_INITS),
        metavar="I1,I2",
        help=f"how the RNN's W_aa starts, one model each, from {', '.join(RNN_INITS)} (default {_csv(q.rnn_inits)})",
    )
    p.add_argument("--hidden", type=_positive_int, help=f"hidden size of every model (default {q.hidden})")
    p.add_argument("--train-size", type=_positive_int, help=f"training sentences per model (default {q.train_size})")
    p.add_argument("--epochs", type=_positive_int, help=f"training budget of every model (default {q.epochs})")
    p.add_argument("--test-size", type=_positive_int, help=f"test sentences per distance (default {q.test_size})")
    p.add_argument(
        "--attractor-prob",
        type=_probability,
        help=f"chance that each noun in between has the other number (default {q.attractor_prob:g})",
    )
    p.add_argument("--lr", type=_positive_float, help=f"Adam learning rate (default {q.lr:g})")
    p.add_argument("--batch-size", type=_positive_int, help=f"sentences per step (default {q.batch_size})")
    p.add_argument("--clip-norm", type=_positive_float, help=f"gradient clipping (default {q.clip_norm:g})")
    p.add_argument("--language", choices=("en", "es"), help="English or Spanish sentences (default en)")
    _add_json(p, "every model's accuracy at every test distance")
    p.add_argument(
        "--from-json",
        metavar="FILE.json",
        help="train nothing: report (and --plot) the results a previous --json run wrote",
    )
    p.add_argument("--quiet", action="store_true", help="no line per trained model on stderr")
    _add_scheduler(p, "the models (one task per seed, distance and model)")

    g = GradientConfig()
    p = _command(
        commands,
        "gradients",
        "vanishing, exploding and constant error flow: RNN vs LSTM, before and after training",
        "Measure |dL/da<t>| and, for the LSTM, |dL/dc<t>| (the gradient of the verb's loss reaching "
        "each earlier step, from the real BPTT) on agreement sentences of --length steps: the vanilla "
        "RNN, the LSTM at each forget-gate bias and the GRU at initialisation and after training; an "
        "RNN whose W_aa has a spectral radius above 1 (exploding) and what clipping does to it; and the "
        "constant error carousel (forget gate = 1, W_hh = 0).",
        plot="gradient norm against steps back (log scale)",
    )
    p.add_argument(
        "--length",
        type=_positive_int,
        default=g.length,
        help="steps of the probe sentences, >= 5; the subject is length-2 steps before the loss",
    )
    p.add_argument("--hidden", type=_positive_int, default=g.hidden, help="hidden size of every model")
    p.add_argument(
        "--forget-bias",
        dest="forget_biases",
        type=_float_list,
        default=g.forget_biases,
        metavar="B1,B2",
        help="the LSTM's forget-gate biases, one model each",
    )
    p.add_argument(
        "--explode-radius",
        type=_positive_float,
        default=g.explode_radius,
        help="spectral radius of W_aa in the exploding RNN",
    )
    p.add_argument("--no-train", action="store_true", help="initialisation, exploding and carousel only (seconds)")
    p.add_argument("--train-size", type=_positive_int, default=g.train_size, help="training sentences")
    p.add_argument("--epochs", type=_positive_int, default=g.epochs, help="training budget of each model")
    p.add_argument("--probe-size", type=_positive_int, default=g.probe_size, help="probe sentences")
    _add_json(p, "every curve's per-step gradient norms")

    p = _command(
        commands,
        "cell",
        "the LSTM cell in the course's notation: its equations, and a picture",
        "Print the LSTM cell's equations in the course's notation (c~, Γu, Γf, Γo, c, a) with "
        "PyTorch's names, from the same graph of operations the picture is drawn from and the tests "
        "run against the package's LSTM.",
        plot="the LSTM cell",
    )

    p = _command(
        commands,
        "bench",
        "time lstmfast vs the NumPy reference (and PyTorch if installed)",
        "A quick, self-contained benchmark (LSTM, float32): every engine is first checked against "
        "the NumPy reference, then timed (median of several runs). The full benchmark is "
        "benchmarks/bench.py in the source tree. Shapes (T, B, I, H): "
        + ", ".join(f"{k} {v}" for k, v in BENCH_SHAPES.items())
        + ".",
    )
    p.add_argument(
        "--shapes",
        type=_name_list(tuple(BENCH_SHAPES)),
        default=["tiny", "medium"],
        metavar="S1,S2",
        help="shapes to time",
    )
    p.add_argument(
        "--modes",
        type=_name_list(("inference", "training")),
        default=["inference", "training"],
        metavar="M1,M2",
        help="inference and/or training (forward + BPTT)",
    )
    p.add_argument(
        "--threads",
        type=_checked(
            int,
            lambda name, value: _checks.integer(name, value, 1, 1024, rule="an int in [1, 1024]"),
            "an int in [1, 1024]",
        ),
        default=None,
        help="threads for lstmfast and PyTorch (default: lstmfast's default)",
    )
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    p.add_argument("--budget", type=_positive_float, default=0.5, help="seconds per engine and row, roughly")
    return parser


# --------------------------------------------------------------------------- commands


def _prepare_plot(path: str | None) -> None:
    if path is None:
        return
    from .plotting import MatplotlibMissing, PlotError, check_plot_path

    try:
        check_plot_path(path)
    except MatplotlibMissing as err:
        raise CommandError(str(err), EXIT_NO_MATPLOTLIB) from None
    except PlotError as err:
        raise CommandError(str(err)) from None


def _draw(draw: Callable[[Any, str], str], result: Any, path: str | None, out: Any) -> None:
    if path is None:
        return
    from .plotting import PlotError

    try:
        draw(result, path)
    except PlotError as err:
        raise CommandError(str(err)) from None
    print(f"\npicture: {path}", file=out)


def _keywords(target: Callable[..., Any], args: argparse.Namespace, **given: Any) -> dict[str, Any]:
    """The keyword arguments of ``target`` (a function or a dataclass) that the command
    line has, by name (the option --batch-size is the parameter batch_size), plus ``given``."""
    names = inspect.signature(target).parameters
    return {**{name: getattr(args, name) for name in names if hasattr(args, name)}, **given}


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_demo(args: argparse.Namespace, out: Any) -> int:
    from .demo import demo_sections, header

    start = time.perf_counter()
    print(header(args.quick), file=out, flush=True)
    for section in demo_sections(quick=args.quick, seed=args.seed):
        print("\n" + section.text(), file=out, flush=True)
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s", file=out)
    return 0


def cmd_forecast(args: argparse.Namespace, out: Any) -> int:
    from ..datasets.series import SeriesError, builtin_series, read_csv_series
    from .forecast_experiment import ForecastConfig, forecast, lr_sweep
    from .plotting import plot_forecast, plot_lr_sweep

    if args.csv is None and (args.column is not None or args.columns is not None or args.delimiter is not None):
        raise CommandError("--column, --columns and --delimiter go with --csv FILE")
    if args.scheduler is not None and args.columns is None:
        raise CommandError("--scheduler goes with --columns (one model per column, each a task)")
    if args.columns is not None:
        if args.lr_sweep or args.plot:
            raise CommandError("--columns forecasts every column: leave out --lr-sweep and --plot")
        return _forecast_columns(args, out)
    if args.out is not None and not args.horizon:
        raise CommandError("--out FILE goes with --horizon N (the forecasts past the end it writes)")
    if args.lr_sweep and (args.horizon or args.test is not None):
        raise CommandError("--lr-sweep runs the sweep only: leave out --horizon and --test")
    _prepare_plot(args.plot)
    _prepare_output(args.out, "--out")
    config = ForecastConfig(**_keywords(ForecastConfig, args))
    try:
        series = (
            read_csv_series(args.csv, args.column, delimiter=args.delimiter) if args.csv else builtin_series(args.data)
        )
        if args.lr_sweep:
            sweep = lr_sweep(series, split=args.split, config=config)
            print(sweep.summary(), file=out)
            _draw(plot_lr_sweep, sweep, args.plot, out)
            return 0
        result = forecast(series, **_keywords(forecast, args), config=config)
    except SeriesError as err:
        raise CommandError(str(err)) from None
    print(result.summary(), file=out)
    if args.out is not None and result.future is not None and result.future_time is not None:
        try:
            with open(args.out, "w", encoding="utf-8", newline="") as handle:
                handle.write(f"{result.series.time_label},forecast\n")
                for t, v in zip(result.future_time, result.future):
                    handle.write(f"{t},{float(v)!r}\n")
        except OSError as err:
            raise CommandError(f"--out {args.out}: cannot write ({err.strerror or err})") from None
        print(f"\nforecasts: {args.out}", file=out)
    _draw(plot_forecast, result, args.plot, out)
    return 0


def _forecast_columns(args: argparse.Namespace, out: Any) -> int:
    """``forecast --csv FILE --columns ...``: one model per column, here or as Dask tasks."""
    from ..datasets.series import SeriesError, read_csv_columns
    from .forecast_experiment import ForecastConfig, forecast

    _prepare_output(args.out, "--out")
    config = ForecastConfig(**_keywords(ForecastConfig, args))
    names = None if args.columns == "all" else [n.strip() for n in args.columns.split(",") if n.strip()]
    try:
        columns, left_out = read_csv_columns(args.csv, names, delimiter=args.delimiter)
    except SeriesError as err:
        raise CommandError(str(err)) from None
    options = {k: v for k, v in _keywords(forecast, args).items() if k not in ("config", "series")}
    tasks = {name: {"series": series, "config": config, **options} for name, series in columns.items()}
    from ..integrations.dask import TaskFailed, fan_out

    start = time.perf_counter()
    try:
        results = fan_out(forecast, tasks, seed=args.seed, scheduler=args.scheduler, workers=args.workers)
    except TaskFailed as err:
        raise CommandError(_first_line(err)) from None
    seconds = time.perf_counter() - start
    where = "here" if args.scheduler is None else f"as Dask tasks ({args.scheduler})"
    print(f"{len(results)} columns of {args.csv}, one model each, {where}, in {seconds:.1f} s", file=out)
    if left_out:
        print(f"left out (their first value is not a number): {', '.join(left_out)}", file=out)
    width = max(len(name) for name in results)
    print(f"\n{'column':<{width}}  values  model MAE  best baseline (MAE)", file=out)
    for name, r in results.items():
        baselines = {m: r.mae(m) for m in r.forecasts if m != r.model_name}
        best = min(baselines, key=lambda m: baselines[m])
        verdict = "beats every baseline" if r.beats_baselines() else "does not beat every baseline"
        print(
            f"{name:<{width}}  {len(r.series):>6}  {r.mae(r.model_name):>9.4g}  {best} ({baselines[best]:.4g}); "
            f"{verdict}",
            file=out,
        )
    if args.out is not None:
        _write_column_forecasts(results, args.out)
        print(f"\nforecasts: {args.out}", file=out)
    return 0


def _write_column_forecasts(results: dict[str, Any], path: str) -> None:
    """Every column's model forecasts: validation, test and past the end, one row each."""
    try:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["column", "period", "time", "actual", "forecast"])
            for name, r in results.items():
                periods = [("validation", r.validation, r.split_time)]
                if r.test is not None and r.test_time is not None:
                    periods.append(("test", r.test, r.test_time))
                for period, scored, first in periods:
                    times = r.series.time[first : first + len(scored.actual)]
                    for t, actual, value in zip(times, scored.actual, scored.forecasts[r.model_name]):
                        writer.writerow([name, period, t, repr(float(actual)), repr(float(value))])
                if r.future is not None and r.future_time is not None:
                    for t, value in zip(r.future_time, r.future):
                        writer.writerow([name, "future", t, "", repr(float(value))])
    except OSError as err:
        raise CommandError(f"--out {path}: cannot write ({err.strerror or err})") from None


def _prepare_output(path: str | None, option: str) -> None:
    """Fail before any computation if a file cannot be written there."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CommandError(f"{option} {path}: is a folder")


def _prepare_json(path: str | None) -> None:
    _prepare_output(path, "--json")


def _write_json(document: dict[str, Any], path: str | None, out: Any, seconds: float) -> None:
    if path is None:
        return
    document = {**document, "machine": _machine(), "seconds": round(seconds, 1)}
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1, allow_nan=False)
            handle.write("\n")
    except OSError as err:
        raise CommandError(f"--json {path}: cannot write ({err.strerror or err})") from None
    print(f"\nnumbers: {path}", file=out)


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as err:
        raise CommandError(f"--from-json {path}: cannot read ({err.strerror or err})") from None
    except json.JSONDecodeError as err:
        raise CommandError(f"--from-json {path}: not JSON ({err})") from None
    if not isinstance(document, dict):
        raise CommandError(f"--from-json {path}: expected a JSON object")
    return document


def _machine() -> dict[str, Any]:
    """What the run was measured on: the CPU's name, its cores, the kernels' ISA and threads."""
    from ..config import kernel_config

    info = kernel_config()
    return {"cpu": info["cpu"], "cores": os.cpu_count(), "isa": info["isa"], "threads": info["threads"]}


def cmd_agreement(args: argparse.Namespace, out: Any) -> int:
    from .agreement_experiment import FULL, QUICK, AgreementResult, agreement_experiment
    from .plotting import plot_agreement

    _prepare_plot(args.plot)
    _prepare_json(args.json)
    if args.from_json is not None:
        result = AgreementResult.from_json(_read_json(args.from_json))
        print(result.summary(), file=out)
        _draw(plot_agreement, result, args.plot, out)
        return 0
    base = FULL if args.full else QUICK
    given: dict[str, Any] = {
        name: getattr(args, name)
        for name in (f.name for f in dataclasses.fields(base))
        if getattr(args, name, None) is not None
    }
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    config = dataclasses.replace(base, **given)
    start = time.perf_counter()
    result = agreement_experiment(
        config, progress=None if args.quiet else _status, scheduler=args.scheduler, workers=args.workers
    )
    return _report(result, time.perf_counter() - start, plot_agreement, args, out)


def _report(result: Any, seconds: float, plot: Callable[..., Any], args: argparse.Namespace, out: Any) -> int:
    """An experiment's summary and run time, then its --json and --plot."""
    print(result.summary(), file=out)
    print(f"\nfinished in {seconds:.0f} s", file=out)
    _write_json(result.to_json(), args.json, out, seconds)
    _draw(plot, result, args.plot, out)
    return 0


def cmd_gradients(args: argparse.Namespace, out: Any) -> int:
    from .gradient_experiment import GradientConfig, gradient_experiment
    from .plotting import plot_gradients

    _prepare_plot(args.plot)
    _prepare_json(args.json)
    config = GradientConfig(**_keywords(GradientConfig, args, train=not args.no_train))
    if config.train:
        _status(f"training a vanilla RNN, {len(config.forget_biases)} LSTMs and a GRU ({config.epochs} epochs) ...")
    start = time.perf_counter()
    result = gradient_experiment(config)
    return _report(result, time.perf_counter() - start, plot_gradients, args, out)


def cmd_cell(args: argparse.Namespace, out: Any) -> int:
    from ..teaching.cell_graph import LSTM_GRAPH
    from .plotting import plot_cell

    _prepare_plot(args.plot)
    print(LSTM_GRAPH.equations(), file=out)
    _draw(lambda graph, path: plot_cell(path, graph), LSTM_GRAPH, args.plot, out)
    return 0


def cmd_bench(args: argparse.Namespace, out: Any) -> int:
    from ..config import get_num_threads, set_num_threads
    from . import speed

    previous = get_num_threads()
    torch = None if args.no_torch else speed.import_torch()
    torch_threads = torch.get_num_threads() if torch is not None else None
    try:
        if args.threads is not None:
            set_num_threads(args.threads)
            if torch is not None:
                torch.set_num_threads(args.threads)
        print(speed.bench_header(), file=out, flush=True)
        if torch is None:
            print("(PyTorch: " + ("skipped" if args.no_torch else "not installed") + ")", file=out)
        try:
            speed.bench(
                args.shapes,
                modes=tuple(args.modes),
                use_torch=torch is not None,
                budget=args.budget,
                seed=args.seed,
                progress=lambda row: print(speed.bench_row_text(row), file=out, flush=True),
            )
        except RuntimeError as err:  # an engine disagrees with the reference: refuse to time it
            raise CommandError(str(err), 1) from None
    finally:
        set_num_threads(previous)
        if torch is not None and torch_threads is not None:
            torch.set_num_threads(torch_threads)
    print("ratio = that engine's time / lstmfast's (higher: lstmfast is faster)", file=out)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Any], int]] = {
    "demo": cmd_demo,
    "forecast": cmd_forecast,
    "agreement": cmd_agreement,
    "gradients": cmd_gradients,
    "cell": cmd_cell,
    "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        return COMMANDS[args.command](args, sys.stdout)
    except CommandError as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return err.code
    except (ValueError, FloatingPointError) as err:
        # The package raises ValueError only for input it cannot take (a size too
        # large, a series it cannot normalise, ...), with a message for the user;
        # FloatingPointError: training diverged (SequenceModel.fit says how).
        print(f"{PROG} {args.command}: error: {_first_line(err)}", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError:
        print(f"{PROG} {args.command}: error: not enough memory for these sizes; try smaller ones", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (lstmfast ... | head): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that Python's own flush at exit does not fail too
        return 141  # 128 + SIGPIPE, as a shell reports it
