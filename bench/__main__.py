"""`python -m bench [NAME ...] [--markdown] [--list]`: run benchmarks, one JSON line each.

NAME is a benchmark's full name or a prefix of dotted parts (`miner` runs every
`miner.*`); with no NAME every benchmark runs. `--markdown` prints a table at the end
instead of JSON lines. Exit status: 0, or 1 if a benchmark failed, 2 for an unknown NAME.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench import discover, run, select

__all__ = ["main"]

_COLUMNS = ("name", "value", "unit", "baseline", "baseline_name", "ratio")


def _markdown(lines: list[dict]) -> str:
    out = ["| " + " | ".join(_COLUMNS) + " | note |", "|" + "---|" * (len(_COLUMNS) + 1)]
    for line in lines:
        cells = ["" if line.get(c) is None else str(line.get(c)) for c in _COLUMNS]
        note = line.get("error") or line.get("note") or ""
        out.append("| " + " | ".join(cells) + f" | {note} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmark name or prefix")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--list", action="store_true", help="list benchmark names and exit")
    args = parser.parse_args(argv)
    discover()
    try:
        chosen = select(args.names)
    except KeyError as exc:
        print(f"no benchmark matches {exc.args[0]!r}", file=sys.stderr)
        return 2
    if args.list:
        for b in chosen:
            print(f"{b.name}\t{b.doc.splitlines()[0] if b.doc else ''}")
        return 0
    lines = []
    for b in chosen:
        line = run(b)
        lines.append(line)
        if not args.markdown:
            print(json.dumps(line), flush=True)
    if args.markdown:
        print(_markdown(lines))
    return 1 if any("error" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
