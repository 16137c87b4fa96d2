"""The ``densespace`` command line.

Exit status: 0 on success, 2 on bad input (an invalid spec, a bad argument),
1 on an unexpected failure. Problems are printed one per line as
``FILE: location: message``; a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from densespace import _space
from densespace._errors import DensespaceError, SpecError
from densespace._schema import schema_text
from densespace._spec import Spec, load_spec

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
    sys.stdout.write(schema_text())
    return EXIT_OK


def inspect_report(spec: Spec) -> dict[str, Any]:
    """What ``densespace inspect --json`` prints for a spec."""
    low, high = _space.parameter_bounds(spec)
    return {
        "name": spec.name,
        "hyperparameters": [h.to_json() for h in _space.hyperparameters(spec)],
        "configurations": _space.configurations(spec),
        "parameters": {"min": low, "max": high},
    }


def _inspect(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    report = inspect_report(spec)
    if args.json:
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
    parameters = report["parameters"]
    if parameters["min"] == parameters["max"]:
        print(f"trainable parameters: {parameters['min']:,}")
    else:
        print(f"trainable parameters: {parameters['min']:,} to {parameters['max']:,}")
    return EXIT_OK


def _count(count: int | None) -> str:
    return "infinitely many (continuous)" if count is None else f"{count:,}"


def _print_problems(exc: SpecError) -> None:
    for line in str(exc).splitlines():
        print(line, file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    from densespace import __version__

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
    schema.set_defaults(run=_schema)

    inspect = commands.add_parser("inspect", help="show the hyperparameters and size of a space")
    inspect.add_argument("spec", metavar="SPEC", help="a JSON or YAML spec file")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except SpecError as exc:
        if args.debug:
            raise
        _print_problems(exc)
        return EXIT_BAD_INPUT
    except DensespaceError as exc:
        if args.debug:
            raise
        print(f"densespace: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("densespace: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last resort, with --debug for details
        if args.debug:
            raise
        print(f"densespace: unexpected {type(exc).__name__}: {exc} (rerun with --debug "
              "for the traceback)", file=sys.stderr)
        return EXIT_FAILURE
