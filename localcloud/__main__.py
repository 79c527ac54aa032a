"""`python -m localcloud`: AWS IoT Core and the other AWS services the platform uses, on loopback.

Prints one line per endpoint (`<name> <url>`), then `localcloud ready`; SIGTERM or SIGINT stops
it cleanly (state flushed to --state-dir, moto stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import resource
import signal
import sys
from pathlib import Path

from localcloud.cloud import (
    DEFAULT_SERVICE_PASSWORD,
    DEFAULT_SERVICE_USERNAME,
    SHADOW_EVENTS_QUEUE,
    Config,
    LocalCloud,
)


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mqtt-port", type=int, default=18830)
    parser.add_argument("--mqtts-port", type=int, default=18883,
                        help="MQTT over TLS with client certificates (-1: no TLS listener)")
    parser.add_argument("--ca-dir", type=Path, default=None,
                        help="the local CA's directory (default: STATE_DIR/ca, else temporary)")
    parser.add_argument("--http-port", type=int, default=18443)
    parser.add_argument("--moto-port", type=int, default=15000)
    parser.add_argument("--mqtt-url", default=None,
                        help="use this broker (mqtt://[user:pass@]host:port) instead of our own")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="keep shadows in DIR/shadows.json across restarts")
    parser.add_argument("--service-username",
                        default=os.environ.get("LOCALCLOUD_SERVICE_USERNAME",
                                               DEFAULT_SERVICE_USERNAME))
    parser.add_argument("--service-password",
                        default=os.environ.get("LOCALCLOUD_SERVICE_PASSWORD",
                                               DEFAULT_SERVICE_PASSWORD))
    parser.add_argument("--things", default=None, metavar="REGEX",
                        help="serve only shadows of things whose name matches (shared brokers)")
    parser.add_argument("--queue-name", default=SHADOW_EVENTS_QUEUE)
    parser.add_argument("--no-moto", action="store_true",
                        help="no moto server (and so no SQS forwarding of shadow events)")
    parser.add_argument("--log-level", default=os.environ.get("LOCALCLOUD_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # moto's request log would print a line per SQS call.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return Config(
        host=args.host,
        mqtt_port=args.mqtt_port,
        http_port=args.http_port,
        moto_port=args.moto_port,
        mqtt_url=args.mqtt_url,
        state_dir=args.state_dir,
        service_username=args.service_username,
        service_password=args.service_password,
        things=args.things,
        moto=not args.no_moto,
        queue_name=args.queue_name,
        mqtts_port=args.mqtts_port if args.mqtts_port >= 0 else None,
        ca_dir=args.ca_dir,
    )


async def serve(config: Config) -> None:
    cloud = LocalCloud(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        endpoints = await cloud.start()
        suffix = " (external)" if endpoints.external_broker else ""
        print(f"mqtt {endpoints.mqtt_url}{suffix}", flush=True)
        if endpoints.mqtts_url:
            print(f"mqtts {endpoints.mqtts_url}", flush=True)
            print(f"ca {endpoints.ca_path}", flush=True)
        print(f"http {endpoints.http_url}", flush=True)
        if endpoints.moto_url:
            print(f"moto {endpoints.moto_url}", flush=True)
        # What start made (moto's modules and models above all, some 200,000 objects) lives as
        # long as the process. Out of the collector's sight, a full collection no longer walks
        # it: those took the event loop, and every shadow request, away for 100-200 ms.
        gc.collect()
        gc.freeze()
        print("localcloud ready", flush=True)
        await stop.wait()
    finally:
        await cloud.stop()


def raise_open_file_limit() -> None:
    # A broker holds one socket per device: use the hard limit, not the soft default of 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    raise_open_file_limit()
    try:
        asyncio.run(serve(config))
    except (OSError, ValueError) as error:
        # A port in use, an unreachable --mqtt-url, a malformed URL: one clear line, exit 1.
        print(f"localcloud: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
