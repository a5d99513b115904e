"""The `steward` command: no arguments starts the desktop app; subcommands work headless."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from steward import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steward", description="Keep local LLMs answering.")
    parser.add_argument("--version", action="version", version=f"steward {__version__}")
    parser.add_argument("--self-test", action="store_true", help="open the window, render every page, exit 0")
    sub = parser.add_subparsers(dest="command")

    config = sub.add_parser("config", help="where the settings live, what they are, whether they are valid")
    config.add_argument("action", choices=["path", "show", "validate"])
    config.add_argument(
        "--strict", action="store_true", help="validate: unknown keys make the file invalid too (exit 1)"
    )

    chat = sub.add_parser("chat", help="ask a question headless, through the same engine as the app")
    chat.add_argument(
        "prompt", nargs="?", default=None, help="the question; '-' reads it from standard input"
    )
    chat.add_argument("--file", type=Path, default=None, help="read the question from this file")
    chat.add_argument("--model", default=None, help="'auto' or 'server/model' (default: settings)")
    chat.add_argument("--strategy", choices=["sequential", "hedged", "race", "weighted"], default=None)
    chat.add_argument(
        "--max-tokens", type=int, default=None, help="longest reply (default: context.max_reply_tokens)"
    )
    chat.add_argument("--json", action="store_true", help="one JSON object per event")
    chat.add_argument("--no-embedded", action="store_true", help="do not start the embedded servers")

    doctor = sub.add_parser("doctor", help="hardware tier, servers, models and what fits")
    doctor.add_argument("--json", action="store_true")

    models = sub.add_parser("models", help="the GGUF model files on this disk and what fits here")
    models.add_argument(
        "--disk", action="store_true", help="scan the disk (the default, for now the only source)"
    )
    models.add_argument("--json", action="store_true")

    export = sub.add_parser(
        "export", help="export the audit trail, the samples, or the routing as a LiteLLM proxy config"
    )
    export.add_argument("what", choices=["events", "samples", "litellm-config"])
    export.add_argument("path", help="a file, or - for standard output")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="events and samples")

    serve = sub.add_parser(
        "serve", help="run the engine, the servers and the OpenAI/Ollama-compatible gateway until stopped"
    )
    serve.add_argument("--host", default=None, help="listen address (default: gateway.host, 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=_port,
        default=None,
        help="listen port (default: gateway.port, 11480; 0: any free port)",
    )

    compare = sub.add_parser(
        "compare", help="A/B: the same prompts to two models, interleaved, with significance tests"
    )
    compare.add_argument("a", help="model A, as 'server/model'")
    compare.add_argument("b", help="model B (may be A again with another --temperature-b)")
    compare.add_argument(
        "--prompts", type=Path, default=None, help="a file: one prompt per line, or a JSON list"
    )
    compare.add_argument("--runs", type=int, default=5, help="runs of every prompt per model (default 5)")
    compare.add_argument("--max-tokens", type=int, default=64, help="longest reply per run (default 64)")
    compare.add_argument("--temperature-a", type=float, default=None)
    compare.add_argument("--temperature-b", type=float, default=None)
    compare.add_argument("--json", action="store_true", help="the whole result as one JSON object")
    compare.add_argument("--no-embedded", action="store_true", help="do not start the embedded servers")

    drill = sub.add_parser(
        "drill", help="failover drill: fail each model in turn (drill traffic only), see who answers"
    )
    drill.add_argument(
        "--model", action="append", default=None, help="a model to fail (repeatable; default: the chain)"
    )
    drill.add_argument(
        "--fault",
        action="append",
        default=None,
        help="refused, hang, cut, error_200, garbage, loop or trickle (repeatable; default: all)",
    )
    drill.add_argument(
        "--recover-limit", type=float, default=60.0, help="longest wait for a model to come back (s)"
    )
    drill.add_argument("--json", action="store_true", help="the whole report as one JSON object")
    drill.add_argument("--no-embedded", action="store_true", help="do not start the embedded servers")

    slo = sub.add_parser(
        "slo",
        help="each model's objectives: error budget left, burn-rate alerts, drift (exit 1 while one burns)",
    )
    slo.add_argument("--json", action="store_true", help="every model's objectives as one JSON list")

    runtime = sub.add_parser("runtime", help="the embedded llama-server runtime")
    runtime.add_argument("action", choices=["install", "path", "check"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from steward.logs import setup_logging

    if args.command is None:
        setup_logging()
        return gui_main(["steward", "--self-test"] if args.self_test else None)
    setup_logging(stderr=not getattr(args, "json", False))
    if args.command == "config":
        return _config(args.action, strict=args.strict)
    if args.command == "chat":
        from steward.chat_cli import PromptError, read_prompt, run_chat

        try:
            prompt = read_prompt(args.prompt, args.file, sys.stdin.buffer)
        except PromptError as exc:
            print(f"steward chat: {exc}", file=sys.stderr)
            return 2
        return asyncio.run(
            run_chat(
                prompt,
                model=args.model,
                strategy=args.strategy,
                max_tokens=args.max_tokens,
                as_json=args.json,
                embedded=not args.no_embedded,
            )
        )
    if args.command == "doctor":
        from steward.doctor_cli import run_doctor

        return asyncio.run(run_doctor(as_json=args.json))
    if args.command == "models":
        from steward.models_cli import run_models

        return asyncio.run(run_models(as_json=args.json))
    if args.command == "export":
        from steward.export_cli import run_export

        return run_export(args.what, args.path, args.format)
    if args.command == "serve":
        from steward.serve_cli import run_serve

        return asyncio.run(run_serve(host=args.host, port=args.port))
    if args.command == "compare":
        from steward.lab_cli import run_compare

        return asyncio.run(
            run_compare(
                args.a,
                args.b,
                prompts_file=args.prompts,
                runs=args.runs,
                max_tokens=args.max_tokens,
                temperature_a=args.temperature_a,
                temperature_b=args.temperature_b,
                as_json=args.json,
                embedded=not args.no_embedded,
            )
        )
    if args.command == "drill":
        from steward.lab_cli import run_drill_cli

        return asyncio.run(
            run_drill_cli(
                models=args.model,
                faults=args.fault,
                recover_limit_s=args.recover_limit,
                as_json=args.json,
                embedded=not args.no_embedded,
            )
        )
    if args.command == "slo":
        from steward.lab_cli import run_slo

        return asyncio.run(run_slo(as_json=args.json))
    if args.command == "runtime":
        return _runtime(args.action)
    return 2


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return int(text)


def gui_main(argv: list[str] | None = None) -> int:
    """Entry point of the desktop app (also the `steward-gui` script): the window on the service,
    with the gateway hosted in it (not during `--self-test`, which only renders the pages)."""
    from steward.desktop import desktop_factory
    from steward.gui.app import run

    args = argv if argv is not None else sys.argv
    return int(run(argv, factory=desktop_factory(gateway="--self-test" not in args)))


def _config(action: str, *, strict: bool = False) -> int:
    """`steward config path|show|validate`: read-only, the file is never moved, copied or rewritten.

    `show` prints the settings Steward would use (invalid parts left out); `validate` exits 1 while
    any setting is invalid (and, with `strict`, while any key is unknown), however often it runs.
    """
    from steward.config import SettingsFile

    settings_file = SettingsFile.default()
    if action == "path":
        print(settings_file.path)
        return 0
    result = settings_file.check()
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if action == "show":
        from steward.config.settings_file import dumps

        print(dumps(result.settings), end="")
        return 0
    if not result.valid:
        print(f"{settings_file.path}: NOT valid (see warnings above)")
        return 1
    if strict and result.unknown:
        count = len(result.unknown)
        print(
            f"{settings_file.path}: NOT valid with --strict: {count} unknown setting(s) (see warnings above)"
        )
        return 1
    print(
        f"{settings_file.path}: valid"
        + ("" if settings_file.path.exists() else " (not written yet: defaults)")
    )
    return 0


def _runtime(action: str) -> int:
    from steward.servers import embedded
    from steward.servers.runtime_install import main as install_main

    if action == "install":
        return install_main([])
    if action == "path":
        print(embedded.find_llama_server() or "")
        return 0
    problems = embedded.problems()
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ready: {embedded.find_llama_server()} with {embedded.find_model()}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
