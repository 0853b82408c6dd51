#!/usr/bin/env python3
"""A real SMTP server that accepts every mail and discards it, for `herold bench --smtp`.

aiosmtpd (pinned in tests/support/requirements.txt; ./scripts/test.sh installs it into
.test-peers/venv) on one asyncio loop, one process:

    .test-peers/venv/bin/python scripts/bench-smtp-sink.py --port 2525 [--stats FILE]

It counts connections, mails per recipient domain and bytes; with --stats it rewrites
FILE as JSON whenever the counts change (at most five times a second) and on exit, and
prints the totals to stderr when stopped (Ctrl-C or SIGTERM).
"""

import argparse
import asyncio
import collections
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    """aiosmtpd handler: counts each mail, keeps nothing."""

    def __init__(self):
        self.connections = 0
        self.mails = collections.Counter()
        self.bytes = 0
        self.changed = False

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            self.mails[rcpt.rpartition("@")[2].lower()] += 1
        self.bytes += len(envelope.content or b"")
        self.changed = True
        return "250 OK"

    def stats(self):
        return {
            "connections": self.connections,
            "mails": sum(self.mails.values()),
            "mails_by_domain": dict(self.mails),
            "bytes": self.bytes,
        }


def write_stats(sink, path):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(sink.stats(), f)
    os.replace(tmp, path)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--stats", help="JSON file with the counts so far")
    args = parser.parse_args()

    sink = Sink()

    def connection():
        sink.connections += 1
        sink.changed = True
        # An explicit host name: aiosmtpd would otherwise resolve its FQDN
        # for every connection.
        return SMTP(sink, hostname="herold-bench-sink")

    loop = asyncio.get_running_loop()
    server = await loop.create_server(connection, args.host, args.port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.stats:
        write_stats(sink, args.stats)
    print(f"SMTP sink listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except asyncio.TimeoutError:
            pass
        if args.stats and sink.changed:
            sink.changed = False
            write_stats(sink, args.stats)
    server.close()
    if args.stats:
        write_stats(sink, args.stats)
    print(f"SMTP sink stopped: {json.dumps(sink.stats())}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
