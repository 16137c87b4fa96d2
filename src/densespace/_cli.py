"""The ``densespace`` command line.

Exit status: 0 on success, 2 on bad input (an invalid spec, a bad argument or
data source, an --out that holds another search), 1 when a search produces no
model (every trial failed, retraining diverged) or on an unexpected failure. Problems are printed one per line as
``FILE: location: message``, control characters escaped (``printable``); a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from densespace import _space
from densespace._errors import (
    DensespaceError,
    OptionError,
    SearchWarning,
    SpecError,
    TuningError,
    printable,
    quote,
)
from densespace._report import REPORT_FILE, summary
from densespace._results import load_results, results_schema_text
from densespace._run.options import KEEP_CHECKPOINTS
from densespace._search import TUNERS
from densespace._spec import Spec, load_spec, schema_text
from densespace._spec.checks import unshaped_infeasible
from densespace._spec.models import DEFAULT_SHAPE
from densespace._version import __version__

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def _validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.files:
        try:
            spec = load_spec(path)
        except SpecError as exc:
            _print_problems(exc)
            status = EXIT_BAD_INPUT
        else:
            count = _space.configurations(spec)
            plural = "" if count == 1 else "s"
            print(f"{path}: ok ({_count(count)} configuration{plural})")
    return status


def _schema(args: argparse.Namespace) -> int:
    sys.stdout.write(results_schema_text() if args.results else schema_text())
    return EXIT_OK


def inspect_report(spec: Spec) -> dict[str, Any]:
    """What ``densespace inspect --json`` prints for a spec: with ``search.constraints`` set,
    also the feasible configurations and their trainable parameter range.

    Raises:
        SpecError: The constraints allow no configuration on the input shape counted without
            data (a spec without ``input.shape``), or cannot be counted.
    """
    low, high = _space.parameter_bounds(spec)
    report: dict[str, Any] = {
        "name": spec.name,
        "hyperparameters": [h.to_json() for h in _space.hyperparameters(spec)],
        "configurations": _space.configurations(spec),
        "parameters": {"min": low, "max": high},
    }
    if spec.search.constraints.active:
        feasible = _space.feasible_space(spec)
        if feasible.parameters is None:  # validation counts only once input.shape is known
            raise unshaped_infeasible(spec)
        least, most = feasible.parameters
        report["feasible"] = {
            "configurations": feasible.configurations,
            "parameters": {"min": least, "max": most},
        }
    return report


def _inspect(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    shown: list[str] = []
    if args.data is not None:
        spec, shown = _fitted(spec, args)
    elif spec.input.shape is None:
        shown = [
            f"input: assumed {list(DEFAULT_SHAPE)} (the spec sets no input.shape; pass --data to count on the data's)"
        ]
    try:
        report = inspect_report(spec)
    except SpecError as exc:
        raise SpecError(exc.problems, source=args.spec) from None
    if args.json:
        with _long_integers():
            print(json.dumps(report, indent=2))
        return EXIT_OK
    title = f"{spec.name}: {spec.description}" if spec.description else spec.name
    print(title)
    hps = _space.hyperparameters(spec)
    print(f"hyperparameters ({len(hps)}):" if hps else "hyperparameters: none (a frozen spec)")
    width = max((len(h.name) for h in hps), default=0)
    domain_width = max((len(h.describe()) for h in hps), default=0)
    for h in hps:
        condition = f"  if {h.condition}" if h.condition else ""
        print(f"  {h.name:<{width}}  {h.describe():<{domain_width}}{condition}".rstrip())
    print(f"configurations: {_count(report['configurations'])}")
    for line in shown:
        print(line)

    def span(parameters: dict[str, int]) -> str:
        low, high = parameters["min"], parameters["max"]
        return f"{low:,}" if low == high else f"{low:,} to {high:,}"

    print(f"trainable parameters: {span(report['parameters'])}")
    feasible = report.get("feasible")
    if feasible is not None:  # search.constraints are set
        whole = "" if feasible["configurations"] is None else f" of {_count(report['configurations'])}"
        print(f"feasible configurations: {_count(feasible['configurations'])}{whole}")
        print(f"feasible trainable parameters: {span(feasible['parameters'])}")
    return EXIT_OK


def _fitted(spec: Spec, args: argparse.Namespace) -> tuple[Spec, list[str]]:
    """The spec fitted to ``--data`` as a search would fit it, and the lines that say so (the
    input's shape, a table's columns)."""
    from densespace._run.fit import fit_to_data
    from densespace.datasets import load
    from densespace.datasets._table import TableEncoding

    fitted, data = fit_to_data(spec, load(args.data, target=args.target, numbers=spec.task == "regression"))
    lines = [f"input: {fitted.input.shape} from {args.data}"]
    if fitted.input.columns is not None:
        lines.append(TableEncoding.fit(fitted.input.columns, data.train[0]).describe())
    return fitted, lines


def _validation(text: str) -> float | str:
    if text == "test":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction such as 0.1, or 'test' (received {text!r})"
        ) from None


def _columns(text: str) -> str | list[str]:
    """``--target``: one column name, or several separated by commas."""
    names = text.split(",")
    return names[0] if len(names) == 1 else names


def _test_split(text: str) -> float | str:
    """``--test``: a fraction such as 0.2, or the path of a CSV file."""
    try:
        return float(text)
    except ValueError:
        return text


def _pack(text: str) -> int | str:
    """``--pack``: an integer, else the word as given (the spec checks either: ``search.pack``)."""
    return int(text) if text.lstrip("-").isdigit() else text


def _tune(args: argparse.Namespace) -> int:
    from densespace._budgets import parse_duration, parse_target
    from densespace._run.options import SearchOptions, TuneOptions
    from densespace._run.quiet import quiet_tensorflow
    from densespace._run.tune import run
    from densespace.datasets import load

    spec = load_spec(args.spec)
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(SearchOptions) if f.name in vars(args)}
    given |= {
        "verbose": 0 if args.quiet else 2 if args.verbose else 1,
        "time_limit": None if args.time_limit is None else parse_duration(args.time_limit),
        "stop_at": None if args.stop_at is None else parse_target(args.stop_at),
    }
    # checked before loading (perhaps downloading) the data
    options = TuneOptions.create(spec, SearchOptions(**given))
    downloads = args.data is None or args.data.startswith("keras:")  # Keras loads with the data
    if not args.verbose and downloads:
        quiet_tensorflow()
    data = load(
        args.data,
        target=args.target,
        test=args.test,
        validation=args.validation,
        limit=args.limit,
        seed=options.spec.search.seed or 0,
        numbers=options.spec.task == "regression",
    )
    result = run(options, data, live=sys.stderr.isatty())
    if not options.verbose:
        return EXIT_OK
    if result.record is None:
        print(f"worker {result.worker}: ran {len(result.trials)} trials; the chief holds the results")
        return EXIT_OK
    print(summary(result.record), end="")
    print(f"results: {result.out / REPORT_FILE}")
    return EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from densespace import _predict as predicting

    results = load_results(args.run_dir)
    out = predicting.destination(args.out, Path(args.run_dir), overwrite=args.overwrite)
    path = predicting.model_path(results, Path(args.run_dir), args.model)
    predicting.check_proba(results, args.proba)
    rows = predicting.read_rows(args.data)
    x = predicting._inputs(results, rows.rows())
    y = predicting.targets(results, rows, args.target) if args.evaluate else None
    from densespace._run.quiet import quiet_tensorflow

    quiet_tensorflow()
    from densespace._keras.io import load_model

    model = load_model(path)
    raw = predicting.outputs(model, x)
    probabilities = predicting.probabilities(results, raw) if args.proba else None
    text = predicting.write(results, rows, predicting.labels(results, raw), probabilities, out)
    if text is not None:
        sys.stdout.write(text)
    if y is not None:
        from densespace._keras.data import batched

        metrics = model.evaluate(batched(x, y), return_dict=True, verbose=0)
        ordered = sorted(metrics.items(), key=lambda item: item[0] != "loss")  # the loss first
        shown = ", ".join(f"{name} {float(value):.4g}" for name, value in ordered)
        print(f"evaluated on {predicting.count(x):,} rows: {shown}", file=sys.stderr)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from densespace._export import export
    from densespace._predict import read_rows

    results = load_results(args.run_dir)
    rows = None if args.data is None else read_rows(args.data)
    from densespace._run.quiet import quiet_tensorflow

    quiet_tensorflow()
    path, difference = export(
        results,
        Path(args.run_dir),
        format=args.format,
        model=args.model,
        data=None if rows is None else rows.rows(),
    )
    checked = "random rows" if rows is None else rows.source
    print(f"wrote {path} (it predicts within {difference:.2g} of best-{args.model}.keras on {checked})")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    results = load_results(args.out)
    if args.json:
        print(json.dumps(results.model_dump(mode="json"), indent=2, allow_nan=False))
    else:
        print(summary(results), end="")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from densespace._report.text import compare

    print(compare([load_results(out) for out in args.outs], labels=args.outs), end="")
    return EXIT_OK


def _count(count: int | None) -> str:
    if count is None:
        return "infinitely many (continuous)"
    with _long_integers():
        return f"{count:,}"


@contextlib.contextmanager
def _long_integers() -> Iterator[None]:
    """Lets exact counts of any size be printed (Python refuses integers over 4,300 digits
    as text by default, a guard for parsing input that densespace never lifts for reading)."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


def _print_problems(exc: SpecError) -> None:
    for line in exc.lines():
        print(printable(line), file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="densespace",
        description="Declarative search spaces for tuning dense networks with keras-tuner.",
    )
    parser.add_argument("--version", action="version", version=f"densespace {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check spec files (exit 2 if any is invalid)")
    validate.add_argument("files", nargs="+", metavar="FILE", help="JSON or YAML spec files")
    validate.set_defaults(run=_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of the spec format")
    schema.add_argument("--results", action="store_true", help="the schema of results.json instead")
    schema.set_defaults(run=_schema)

    inspect = commands.add_parser("inspect", help="show the hyperparameters and size of a space")
    inspect.add_argument("spec", metavar="SPEC", help="a JSON or YAML spec file")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument(
        "--data",
        metavar="SOURCE",
        help="count on this data's shape (a table's encoded columns), as tune would",
    )
    inspect.add_argument(
        "--target", type=_columns, metavar="COL[,COL...]", help="the column to predict of a table --data"
    )
    inspect.set_defaults(run=_inspect)

    tune = commands.add_parser(
        "tune",
        help="search a space on CIFAR-10 or your own data, retrain the best and test them",
        description="Search a space with keras-tuner on CIFAR-10 or your own data, retrain the best configurations "
        "from scratch and evaluate them once on the test split. Options override the spec's "
        "search and training sections; the spec file is never edited. Running again on the "
        "same --out resumes an interrupted search.",
    )
    tune.add_argument("spec", metavar="SPEC", help="a JSON or YAML spec file")
    tune.add_argument(
        "--data",
        metavar="SOURCE",
        help="the data: a CIFAR-10 archive or folder (python or binary version), a .npz file "
        "(x_train, y_train, x_test, y_test; or x, y), a .csv file (with --target), or keras:NAME "
        "(mnist, fashion_mnist, cifar10, cifar100, boston_housing, california_housing); "
        "default $DENSESPACE_CIFAR10, else keras' download of CIFAR-10",
    )
    tune.add_argument(
        "--target",
        type=_columns,
        metavar="COL[,COL...]",
        help="the column (or comma-separated columns) of a .csv --data to predict",
    )
    tune.add_argument(
        "--test",
        type=_test_split,
        metavar="FRACTION|PATH",
        help="share of a .csv or .npz --data held out for testing (default 0.2), "
        "or a second .csv file to test on",
    )
    tune.add_argument("--tuner", choices=list(TUNERS), help="override search.tuner")
    tune.add_argument(
        "--max-trials",
        type=int,
        metavar="N",
        help="override search.max_trials (larger on a finished --out: the search goes on)",
    )
    tune.add_argument("--epochs", type=int, metavar="N", help="override training.epochs")
    tune.add_argument("--seed", type=int, metavar="N", help="override search.seed")
    tune.add_argument(
        "--pack",
        type=_pack,
        metavar="K|auto|off",
        help="override search.pack: train up to K trials together in one model",
    )
    tune.add_argument(
        "--time-limit",
        metavar="DURATION",
        help="start no new trial after this long (90, 90s, 15m, 2h, 1h30m; counted from this run's "
        "start): the running trial finishes and retraining still runs",
    )
    tune.add_argument(
        "--stop-at",
        metavar="METRIC=VALUE",
        help="start no new trial once a completed trial reaches VALUE of METRIC, an objective of the "
        "spec's task (such as val_accuracy=0.9, or val_loss=0.3: at most it for a loss or error)",
    )
    tune.add_argument(
        "--enqueue",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="evaluate these models first (after search.initial_points): frozen spec files, such as "
        "best-1.spec.json, or results folders (their retrained best); random and bayesian searches",
    )
    tune.add_argument(
        "--warm-start",
        metavar="RUN_DIR",
        help="start from the scored trials of an earlier search of the same space and data (its "
        "results folder), without training them again; random and bayesian searches",
    )
    tune.add_argument(
        "--ignore",
        type=lambda text: text.split(","),
        default=(),
        metavar="COL[,COL]",
        help="columns of a table --data to leave out of the model (an ID, a leak of the target)",
    )
    tune.add_argument(
        "--export",
        type=lambda text: text.split(","),
        default=(),
        metavar="FORMAT[,FORMAT]",
        help="also write each retrained model as savedmodel and/or tflite, checked on the test split",
    )
    tune.add_argument(
        "--retrain-top",
        type=int,
        default=1,
        metavar="K",
        help="retrain and test the K best configurations (default 1; 0 skips)",
    )
    tune.add_argument(
        "--ensemble",
        type=int,
        default=0,
        metavar="K",
        help="also write ensemble.keras, averaging the K best retrained models (K >= 2; retrains at "
        "least K), tested once",
    )
    tune.add_argument("--out", metavar="DIR", help="results folder (default runs/<spec name>)")
    tune.add_argument(
        "--limit", type=int, metavar="N", help="use a stratified subset of N examples per split"
    )
    tune.add_argument(
        "--validation",
        type=_validation,
        default=0.1,
        metavar="FRACTION|test",
        help="share of the training set held out for validation (default 0.1), or "
        "'test' to validate on the test set as the blog post did (overstates results)",
    )
    tune.add_argument("--overwrite", action="store_true", help="start over when --out holds another search")
    roles = tune.add_mutually_exclusive_group()
    roles.add_argument(
        "--chief",
        metavar="HOST:PORT",
        help="serve a distributed search here (keras-tuner's "
        "chief oracle, gRPC without authentication: private networks only)",
    )
    roles.add_argument(
        "--worker", metavar="HOST:PORT", help="train trials handed out by the chief at HOST:PORT"
    )
    tune.add_argument("--worker-id", metavar="ID", help="this worker's name, unique among the workers")
    tune.add_argument(
        "--connect-timeout",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="how long a worker keeps trying to reach its chief, and waits for each of its answers "
        "(default 180)",
    )
    tune.add_argument(
        "--tensorboard",
        action="store_true",
        help="write TensorBoard logs (every trial's epochs and the HParams view) under DIR/tensorboard",
    )
    tune.add_argument(
        "--keep-checkpoints",
        choices=list(KEEP_CHECKPOINTS),
        default="best",
        help="search checkpoints to keep once the search is over: those of the retrained "
        "configurations (best, the default), all, or none",
    )
    tune.add_argument(
        "--with-optimizer", action="store_true", help="save best-K.keras with the optimizer's state"
    )
    tune.add_argument(
        "--retrain", action="store_true", help="retrain even when --out holds this search, finished"
    )
    loudness = tune.add_mutually_exclusive_group()
    loudness.add_argument("--quiet", action="store_true", help="print nothing but errors")
    loudness.add_argument(
        "--verbose", action="store_true", help="also print Keras' epoch lines and TensorFlow's messages"
    )
    tune.set_defaults(run=_tune)

    predict = commands.add_parser(
        "predict",
        help="predict new rows with a retrained model of a finished search",
        description="Predict the rows of a .csv or .npz file with best-K.keras of a results folder. "
        "A CSV file needs the run's feature columns (any order); its other columns (an ID, the "
        "target) are copied in front of the predictions, else a row number is. The output is "
        "CSV on standard output, or --out FILE (.csv, or .npz: arrays predictions, proba, classes).",
    )
    predict.add_argument("run_dir", metavar="RUN_DIR", help="a densespace tune --out folder")
    predict.add_argument(
        "data", metavar="DATA", help="the rows: a .csv file (header row first) or a .npz file (x)"
    )
    predict.add_argument(
        "--model",
        type=int,
        default=1,
        metavar="K",
        help="the retrained model of rank K (default 1, the best)",
    )
    predict.add_argument("--out", metavar="FILE", help="write a .csv or .npz file instead of printing CSV")
    predict.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    predict.add_argument("--proba", action="store_true", help="also each class's probability (proba_<class>)")
    predict.add_argument(
        "--evaluate",
        action="store_true",
        help="also print the model's metrics on the rows' labels (a .npz file's y, or --target)",
    )
    predict.add_argument(
        "--target",
        type=_columns,
        metavar="COL[,COL...]",
        help="the label column(s) of a .csv DATA for --evaluate (default: a regression's target columns)",
    )
    predict.set_defaults(run=_predict)

    export = commands.add_parser(
        "export",
        help="write a retrained model as a TensorFlow SavedModel or a TFLite file",
        description="Write best-K.keras of a results folder as best-K.savedmodel/ (TensorFlow's "
        "SavedModel) or best-K.tflite, beside it, once the export, reloaded, predicts what the "
        "Keras model predicts (within 1e-5 for a SavedModel, 1e-4 for TFLite, absolute) on --data "
        "or on random rows.",
    )
    export.add_argument("run_dir", metavar="RUN_DIR", help="a densespace tune --out folder")
    export.add_argument("--format", required=True, choices=["savedmodel", "tflite"], help="the format")
    export.add_argument(
        "--model",
        type=int,
        default=1,
        metavar="K",
        help="the retrained model of rank K (default 1, the best)",
    )
    export.add_argument(
        "--data",
        metavar="FILE",
        help="rows to check the export on: a .csv or .npz file, as predict reads (needed for a table's run)",
    )
    export.set_defaults(run=_export)

    report = commands.add_parser("report", help="print the summary of a finished search again")
    report.add_argument("out", metavar="DIR", help="a densespace tune --out folder")
    report.add_argument("--json", action="store_true", help="print results.json (as checked) instead")
    report.set_defaults(run=_report)

    compare = commands.add_parser("compare", help="show finished searches side by side")
    compare.add_argument("outs", nargs="+", metavar="DIR", help="densespace tune --out folders")
    compare.set_defaults(run=_compare)
    for command in commands.choices.values():  # --debug also after the command
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
        )
    return parser


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if issubclass(category, SearchWarning):  # densespace's own; the libraries' are noise here
        print(f"densespace: warning: {printable(str(message))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            if getattr(args, "quiet", False):
                warnings.simplefilter("ignore")
            return run(args)
    except DensespaceError as exc:
        if args.debug:
            raise
        if isinstance(exc, SpecError):
            _print_problems(exc)
        else:
            message = exc.for_cli() if isinstance(exc, OptionError) else str(exc)
            print(f"densespace: error: {printable(message)}", file=sys.stderr)
        return EXIT_FAILURE if isinstance(exc, TuningError) else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("densespace: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`densespace report DIR | head`): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_FAILURE
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"densespace: unexpected {type(exc).__name__}: {printable(quote(str(exc)))} (rerun with --debug for the "
            "traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
