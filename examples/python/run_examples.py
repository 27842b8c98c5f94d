#!/usr/bin/python3
"""Runs the repository's example programs on a zerocelld from Python and prints what they did.

    PYTHONPATH=build/python:examples/python /usr/bin/python3 examples/python/run_examples.py \
        --server=127.0.0.1:50051 [--examples=build/examples] [--busybox=/bin/busybox]

Exit status 0 when every example behaved as expected, 1 otherwise.
"""

import argparse
import os
import sys

from zerocell_client import Client, RejectedImage, channel, outcome_name


def show(title, response):
    print(f"== {title}: {outcome_name(response)} exit={response.exit_code} "
          f"wall={response.usage.wall_ns / 1e6:.2f} ms image={response.image_id[:19]}...")
    for alias in ("/dev/stdout", "/dev/stderr"):
        data = channel(response, alias).output
        if data:
            print(f"-- {alias} ({len(data)} bytes)")
            sys.stdout.write(data.decode("utf-8", "replace"))
    if response.detail and outcome_name(response) != "EXITED":
        print(f"-- detail: {response.detail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("ZEROCELL_SERVER", "127.0.0.1:50051"))
    parser.add_argument("--examples", default="build/examples",
                        help="directory with the built examples (hello, escape)")
    parser.add_argument("--busybox", default="/bin/busybox", help="a static busybox")
    parser.add_argument("--tls_ca")
    parser.add_argument("--tls_cert")
    parser.add_argument("--tls_key")
    args = parser.parse_args()

    failures = 0
    with Client(args.server, args.tls_ca, args.tls_cert, args.tls_key) as zc:
        hello = os.path.join(args.examples, "hello")
        response = zc.execute(hello)
        show("hello", response)
        failures += outcome_name(response) != "EXITED" or response.exit_code != 0

        # The second run of the same bytes goes by id only: nothing is uploaded again.
        uploads = zc.image_uploads
        response = zc.execute(hello)
        print(f"== hello again: {outcome_name(response)}, "
              f"image uploaded again: {zc.image_uploads != uploads}")
        failures += zc.image_uploads != uploads

        if os.path.exists(args.busybox):
            words = b"pear\napple\nfig\nbanana\n"
            response = zc.execute(args.busybox, argv=["sort"], stdin=words, timeout_ms=5000)
            show("busybox sort", response)
            failures += channel(response, "/dev/stdout").output != b"apple\nbanana\nfig\npear\n"

            response = zc.execute(args.busybox, argv=["sh", "-c", "while :; do :; done"],
                                  timeout_ms=300)
            show("busybox busy loop, 300 ms timeout", response)
            failures += outcome_name(response) != "TIMEOUT"

        escape = os.path.join(args.examples, "escape")
        if os.path.exists(escape):
            try:
                response = zc.execute(escape)
                show("escape (tries to leave the sandbox)", response)
                failures += outcome_name(response) == "EXITED" and response.exit_code == 0
            except RejectedImage as rejected:
                print(f"== escape: refused at admission: {rejected}")
                for r in rejected.report.rejections:
                    print(f"   {r.instruction} at {r.vaddr:#x}: {r.rule}")

        print("== images on the server:")
        for image in zc.list_images():
            print(f"   {image.image_id[:19]}... {image.name or '-':12} {image.size_bytes:>9} bytes "
                  f"{image.executions} executions")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
