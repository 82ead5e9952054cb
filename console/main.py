"""`syncscope`: the console on the demo lab (default), plus `demo`, `node`, `runtime` subcommands.

Each subcommand lives in its own module with `add_arguments(parser)` and `run(args) -> int`; the
module is imported only when its command runs, so the engine commands never import Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "gui": ("console.gui", "open the console on the demo lab (the default)"),
    "demo": ("console.demo", "run the demo lab (headless with --headless) and report convergence"),
    "node": ("console.node_cmd", "run a Message Node as a WebSocket server"),
    "runtime": ("console.runtime_cmd", "run a headless runtime driven by a scenario file"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncscope", description="Run, watch and test P2P data synchronisation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            command.set_defaults(missing=name)
            continue
        module.add_arguments(command)
        command.set_defaults(module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0].startswith("-"):
        args_list.insert(0, "gui")  # `syncscope [--offscreen ...]` opens the console
    parser = build_parser()
    args = parser.parse_args(args_list)
    if getattr(args, "missing", None):
        print(f"syncscope: the '{args.missing}' command is not available in this build", file=sys.stderr)
        return 2
    result: int = args.module.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
