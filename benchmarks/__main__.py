"""``python -m benchmarks`` (``make bench``): run, print the Markdown report, write results.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from pathlib import Path

from benchmarks import _h2, run


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmarks, print and save the report."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="scalekit-langchain vs langchain-mcp-adapters, against a local emulator.",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=None,
        help="latency injected per request (default 10 ms; quick mode 0)",
    )
    parser.add_argument("--users", type=int, default=None, help="concurrent users (default 200)")
    parser.add_argument("--quick", action="store_true", help="a smoke run in a few seconds")
    parser.add_argument(
        "--h2", action="store_true", help="only the h2 vs HTTP/1.1 row (printed, not written)"
    )
    parser.add_argument(
        "--output", default=None,
        help="where to write the report (default benchmarks/results.md; '-' for nowhere)",
    )
    args = parser.parse_args(argv)
    if args.h2:
        print("\n".join(_h2.h2_section(asyncio.run(_h2.alone()))))
        return 0
    raw = sys.argv[1:] if argv is None else argv
    python = os.path.relpath(sys.executable) if not sys.executable.startswith("/usr") else "python"
    command = " ".join([python, "-m", "benchmarks", *map(shlex.quote, raw)])
    results = run(
        quick=args.quick,
        latency=args.latency_ms / 1000.0 if args.latency_ms is not None else None,
        users=args.users,
        command=command,
        progress=True,
    )
    report = results.markdown()
    print(report)
    output = args.output
    if output is None:
        output = "" if args.quick else str(Path(__file__).with_name("results.md"))
    if output and output != "-":
        Path(output).write_text(report + "\n", encoding="utf-8")
        print(f"\n(written to {output})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
