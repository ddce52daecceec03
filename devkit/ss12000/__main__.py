"""``python -m devkit.ss12000 --port 8120 --schools 12 --districts 3 --seed 1 --client-id skolit --client-secret s``: the SS 12000
test server as a process. Prints ``ss12000 listening on http://host:port`` once it accepts connections (``--port 0``: a free
port, named in that line); SIGTERM or Ctrl-C stops it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys

import uvicorn

from devkit.ss12000.app import build_app
from devkit.ss12000.citygen import City


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devkit.ss12000", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--schools", type=int, default=12, help="school units (~370 pupils each; ~270 for a city of 100,000 pupils)")
    parser.add_argument("--districts", type=int, default=3)
    parser.add_argument("--school-size", type=float, default=1.0, help="scales every school's pupils (e.g. 0.1 for a small test city)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--token-seconds", type=float, default=300)
    parser.add_argument("--faults", type=float, default=0.0, help="probability that a list request fails (429 and 500 alternately)")
    parser.add_argument("--max-page", type=int, default=1000)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    city = City.generate(schools=args.schools, districts=args.districts, seed=args.seed, school_size=args.school_size)
    app = build_app(city, client_id=args.client_id, client_secret=args.client_secret, token_seconds=args.token_seconds,
                    faults=args.faults, max_page=args.max_page)
    # Bound here, so that --port 0 names its real port and "address in use" fails before the line is printed.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    # uvicorn stops gracefully on SIGTERM and then raises it again for the handler it found: make that an exit with 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"ss12000 listening on http://{host}:{port}", flush=True)  # exactly this line: the tests and the bench wait for it
    await task


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
