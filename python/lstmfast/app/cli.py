"""The ``lstmfast`` command (also ``python -m lstmfast``).

    lstmfast demo                      the lecture's claims, measured, in about half a minute
    lstmfast forecast                  LSTM vs baselines on a series (built-in or --csv FILE)
    lstmfast agreement                 vanilla RNN vs LSTM on "the cat(s) ... was/were"
    lstmfast gradients                 vanishing gradients: RNN vs LSTM, before and after training
    lstmfast bench                     lstmfast vs the NumPy reference (and PyTorch if installed)

Exit codes: 0 success; 2 a bad argument or input (a one-line message on stderr, no
traceback); 1 ``--plot`` without matplotlib.
"""

from __future__ import annotations

import argparse
import inspect
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


def _add_training(p: argparse.ArgumentParser, a: Any) -> None:
    """The options of the agreement task's training, shared by the RNN and the LSTM."""
    p.add_argument("--hidden", type=_positive_int, default=a.hidden, help="hidden size of both cells")
    p.add_argument("--train-size", type=_positive_int, default=a.train_size, help="training sentences")
    p.add_argument("--epochs", type=_positive_int, default=a.epochs, help="training budget of each cell")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from ..datasets.series import BUILTIN_SERIES
    from .agreement_experiment import AgreementConfig
    from .forecast_experiment import ForecastConfig
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
        "LSTM vs naive and moving-average forecasts of a series",
        "Split a series by time, train an LSTM on windows of the training period (normalised with "
        "its statistics only), forecast the validation period one step ahead, and compare it with "
        "the naive, moving-average (window picked on the training period) and seasonal-naive "
        "forecasts: MAE, RMSE, MAPE.",
        plot="the forecasts against the actual values",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", choices=BUILTIN_SERIES, default="sunspots", help="a built-in series")
    src.add_argument("--csv", metavar="FILE", help="your own series: a CSV file with a header row")
    p.add_argument("--column", metavar="NAME", help="the column of --csv to forecast (needed if it has several)")
    p.add_argument("--delimiter", metavar="CHAR", help="field separator of --csv (default: detected)")
    p.add_argument(
        "--split",
        type=_split,
        default=None,
        help="first validation index, or the training fraction like 0.8 (default: the series' own "
        "split, sunspots 1950; else 0.8)",
    )
    p.add_argument("--window", type=_positive_int, default=d.window, help="past values the LSTM reads")
    p.add_argument("--hidden", type=_positive_int, default=d.hidden, help="LSTM hidden size")
    p.add_argument("--epochs", type=_positive_int, default=d.epochs, help="passes over the training windows")
    p.add_argument("--lr", type=_positive_float, default=d.lr, help="Adam learning rate")
    p.add_argument("--batch-size", type=_positive_int, default=d.batch_size, help="windows per step")
    p.add_argument(
        "--ma-window",
        type=_positive_int,
        default=None,
        help="moving-average window (default: the best on the training period)",
    )
    p.add_argument(
        "--season",
        type=_positive_int,
        default=None,
        help="steps per season for the seasonal-naive baseline (default: the series' own)",
    )

    a = AgreementConfig()
    p = _command(
        commands,
        "agreement",
        "vanilla RNN vs LSTM on 'the cat(s) ... was/were'",
        "Train a vanilla RNN and an LSTM (same hidden size, data and budget) to predict the verb's "
        "number from the subject, with up to --max-distance words in between, then measure accuracy "
        "by distance on new sentences, next to the last-noun shortcut and chance.",
        plot="accuracy against distance, and against epochs",
    )
    _add_training(p, a)
    p.add_argument(
        "--max-distance",
        type=_positive_int,
        default=max(a.train_distances),
        help="training distances are 1..this, uniformly mixed",
    )
    p.add_argument("--distances", type=_int_list, default=a.test_distances, metavar="D1,D2,...", help="test distances")
    p.add_argument("--test-size", type=_positive_int, default=a.test_size, help="test sentences per distance")
    p.add_argument(
        "--attractor-prob",
        type=_probability,
        default=a.attractor_prob,
        help="chance that each noun in between has the other number",
    )
    p.add_argument(
        "--per-step",
        action="store_true",
        help="train on every step after the subject, not only the verb (makes it easy for both)",
    )
    p.add_argument("--lr", type=_positive_float, default=a.lr, help="Adam learning rate")
    p.add_argument("--batch-size", type=_positive_int, default=a.batch_size, help="sentences per step")
    p.add_argument("--repeats", type=_positive_int, default=a.repeats, help="seeds (seed, seed+1, ...)")
    p.add_argument("--language", choices=("en", "es"), default=a.language, help="English or Spanish sentences")

    p = _command(
        commands,
        "gradients",
        "vanishing gradients: RNN vs LSTM, before and after training",
        "Train a vanilla RNN and an LSTM on the plural-cats task, then measure |dL<verb>/da<t>| "
        "(the gradient of the verb's loss reaching each earlier hidden state, from the real BPTT) on "
        "sentences of --length steps, at initialisation and after training.",
        plot="gradient norm against steps back (log scale)",
    )
    p.add_argument("--length", type=_positive_int, default=100, help="steps of the probe sentences (>= 5)")
    _add_training(p, a)

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
    from .forecast_experiment import ForecastConfig, forecast
    from .plotting import plot_forecast

    if args.csv is None and (args.column is not None or args.delimiter is not None):
        raise CommandError("--column and --delimiter go with --csv FILE")
    _prepare_plot(args.plot)
    try:
        series = (
            read_csv_series(args.csv, args.column, delimiter=args.delimiter) if args.csv else builtin_series(args.data)
        )
        result = forecast(series, **_keywords(forecast, args), config=ForecastConfig(**_keywords(ForecastConfig, args)))
    except SeriesError as err:
        raise CommandError(str(err)) from None
    print(result.summary(), file=out)
    _draw(plot_forecast, result, args.plot, out)
    return 0


def cmd_agreement(args: argparse.Namespace, out: Any) -> int:
    from ..datasets import agreement as ag
    from .agreement_experiment import AgreementConfig, agreement_experiment
    from .plotting import plot_agreement

    too_far = [d for d in args.distances if d > ag.MAX_DISTANCE]
    if args.max_distance > ag.MAX_DISTANCE or too_far:
        raise CommandError(f"distances: at most {ag.MAX_DISTANCE}")
    _prepare_plot(args.plot)
    config = AgreementConfig(
        **_keywords(
            AgreementConfig,
            args,
            train_distances=tuple(range(1, args.max_distance + 1)),
            test_distances=tuple(sorted(set(args.distances))),
        )
    )
    _status(f"training a vanilla RNN and an LSTM, {args.repeats} seed(s) x {args.epochs} epochs ...")
    result = agreement_experiment(config)
    print(result.summary(), file=out)
    _draw(plot_agreement, result, args.plot, out)
    return 0


def cmd_gradients(args: argparse.Namespace, out: Any) -> int:
    from ..datasets import agreement as ag
    from .agreement_experiment import AgreementConfig
    from .gradient_experiment import gradient_experiment
    from .plotting import plot_gradients

    if not 5 <= args.length <= ag.MAX_DISTANCE + 3:
        raise CommandError(f"--length: expected 5..{ag.MAX_DISTANCE + 3}, got {args.length}")
    _prepare_plot(args.plot)
    config = AgreementConfig(**_keywords(AgreementConfig, args))
    _status(f"training a vanilla RNN and an LSTM on the plural-cats task ({args.epochs} epochs) ...")
    result = gradient_experiment(args.length, config=config)
    print(result.summary(), file=out)
    _draw(plot_gradients, result, args.plot, out)
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
