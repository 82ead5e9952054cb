"""`syncscope node`: a domain's Message Node as a WebSocket server (TRANSPORT.md).

Prints `listening on <url>` once bound (and the monitor token once, when it was generated), then how
home sessions open (`home sessions: first come …` without `--home-secret-file`); logs one line per
session event on stderr (lines bounded and rate-limited, `core.net.log_guard`), and closes every
session with 1001 on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
import ssl
import sys
from collections.abc import Callable

from core.net.log_guard import LogGuard
from core.net.outbox import MAX_OUTGOING, MAX_OUTGOING_BYTES
from core.net.websocket import IDLE_TIMEOUT, OPEN_TIMEOUT, NodeServer, default_max_links
from core.node.cluster.cluster import CLUSTER_HEADERS, Cluster, ClusterUnavailable
from core.node.home_secret import read_secret
from core.node.limits import MAX_DEPTH_CEILING, Limits, page_error
from core.node.monitor_feed import MAX_MONITOR_QUEUE, MONITOR_BYTES, REPLAY
from core.node.node import MAX_MESSAGE, MessageNode
from core.node.state import MemoryState, NodeState, StateError
from core.node.subscription_manager import MAX_SUBSCRIPTION_BYTES, MAX_SUBSCRIPTIONS

#: `Limits` field → (option, metavar, help); every bound on what a peer sends (docs/LIMITS.md).
_LIMIT_OPTIONS = {
    "max_depth": ("--max-depth", "N", f"JSON nesting of a message (at most {MAX_DEPTH_CEILING}); deeper: 400"),
    "max_address": ("--max-address", "BYTES", "an address the node reads; longer: 400"),
    "max_scheme": ("--max-scheme", "BYTES", "an object scheme in an allocation request; longer: 400"),
    "max_token": ("--max-token", "BYTES", "a session, delegation or monitor token; longer: 400"),
    "max_allocation": ("--max-allocation", "N", "addresses allocated, or registrations taken, per request"),
    "max_owned": ("--max-owned", "N", "addresses a runtime URL may own, allocated or transferred; past it: 429"),
    "registry_entry": ("--registry-entry", "BYTES", "one registry entry; larger: 413"),
    "registry_runtime_bytes": ("--registry-runtime-bytes", "BYTES",
                               "registry entries of one runtime's objects; past it: 429"),
    "registry_bytes": ("--registry-bytes", "BYTES", "all registry entries of the domain; past it: 429"),
    "registry_page": ("--registry-page", "BYTES", "entries in one registry read answer (then `next`)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domain", required=True, help="the node's domain, e.g. a.example")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--state", metavar="FILE",
                        help="SQLite file keeping tokens, ownerships and registrations across restarts")
    parser.add_argument("--monitor-token", metavar="T", help="token monitors present (generated and printed if absent)")
    parser.add_argument("--tls-cert", metavar="C", help="certificate chain (PEM) to serve wss://")
    parser.add_argument("--tls-key", metavar="K", help="private key (PEM) of --tls-cert")
    parser.add_argument("--max-message", type=int, default=MAX_MESSAGE, metavar="BYTES",
                        help=f"largest accepted message (default {MAX_MESSAGE}); 4x this closes the link")
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT, metavar="S",
                        help=f"close links silent this long (default {IDLE_TIMEOUT:g} s)")
    parser.add_argument("--max-outgoing", type=int, default=MAX_OUTGOING, metavar="N",
                        help=f"messages waiting for a slow peer before its link is closed 1013 "
                             f"(default {MAX_OUTGOING})")
    parser.add_argument("--max-outgoing-bytes", type=int, default=MAX_OUTGOING_BYTES, metavar="BYTES",
                        help=f"bytes waiting for a slow peer before its link is closed 1013 "
                             f"(default {MAX_OUTGOING_BYTES})")
    parser.add_argument("--open-timeout", type=float, default=OPEN_TIMEOUT, metavar="S",
                        help=f"close links that have not sent open after S seconds, 1008 (default {OPEN_TIMEOUT:g})")
    parser.add_argument("--max-links", type=int, default=None, metavar="N",
                        help=f"connections held at once; past it HTTP 503 at the handshake (default: the file "
                             f"descriptor limit less headroom, now {default_max_links()})")
    parser.add_argument("--home-secret-file", metavar="F",
                        help="file holding the domain's secret: home sessions must present it at open "
                             "(default: none, home sessions are first come)")
    parser.add_argument("--monitor-queue", type=int, default=MAX_MONITOR_QUEUE, metavar="N",
                        help=f"events a monitor may be behind before it loses the oldest (default {MAX_MONITOR_QUEUE})")
    parser.add_argument("--replay", type=int, default=REPLAY, metavar="N",
                        help=f"events kept for monitors that ask for a replay (default {REPLAY}; 0: none)")
    parser.add_argument("--monitor-bytes", type=int, default=MONITOR_BYTES, metavar="N",
                        help=f"bytes of encoded events kept for the replay and all monitors together "
                             f"(default {MONITOR_BYTES})")
    parser.add_argument("--max-subscriptions", type=int, default=MAX_SUBSCRIPTIONS, metavar="N",
                        help=f"node subscriptions per session (default {MAX_SUBSCRIPTIONS}); past it: 429")
    parser.add_argument("--max-subscription-bytes", type=int, default=MAX_SUBSCRIPTION_BYTES, metavar="BYTES",
                        help=f"bytes of subscribed addresses per session (default {MAX_SUBSCRIPTION_BYTES}); "
                             f"past it: 429, 413 for one request over it")
    defaults = Limits()
    for name, (option, metavar, text) in _LIMIT_OPTIONS.items():
        default = getattr(defaults, name)
        parser.add_argument(option, type=int, default=default, metavar=metavar, dest=name,
                            help=f"{text} (default {default})")
    parser.add_argument("--cluster", metavar="URLS",
                        help="nats://HOST:PORT[,…]: serve the domain together with every other node on these NATS "
                             "servers (JetStream keeps the shared state; leave out --state)")
    parser.add_argument("--node-id", metavar="ID", help="this node's name in its cluster (default: random)")
    parser.add_argument("--monitor-scope", choices=("node", "domain"), default="node",
                        help="with --cluster: what this node's monitors see, its own traffic (default) or the "
                             "whole domain's"),
    parser.add_argument("--quiet", action="store_true", help="log warnings only")


def run(args: argparse.Namespace) -> int:
    if bool(args.tls_cert) != bool(args.tls_key):
        print("syncscope node: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    handler.addFilter(LogGuard())   # bounded lines, repeated ones rate-limited (TRANSPORT §5)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, handlers=[handler])
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        limits = Limits(**{name: getattr(args, name) for name in _LIMIT_OPTIONS})
        problem = page_error(limits, args.max_message)
        if problem is not None:
            raise ValueError(problem)
    except ValueError as exc:
        print(f"syncscope node: {exc}", file=sys.stderr)
        return 2
    if args.cluster and args.state:
        print("syncscope node: --cluster keeps the domain's state in NATS JetStream; leave out --state",
              file=sys.stderr)
        return 2
    try:
        context = _tls(args)
        secret = read_secret(args.home_secret_file) if args.home_secret_file else None
        state = NodeState(args.state) if args.state else None
    except (OSError, ValueError, ssl.SSLError, StateError) as exc:
        print(f"syncscope node: {exc}", file=sys.stderr)
        return 2
    token = args.monitor_token or secrets.token_urlsafe(16)

    def build(state: MemoryState | None, cluster: Cluster | None = None) -> MessageNode:
        return MessageNode(args.domain, state=state, max_message=args.max_message, monitor_token=token,
                           monitor_queue=args.monitor_queue, replay=args.replay, monitor_bytes=args.monitor_bytes,
                           max_subscriptions=args.max_subscriptions,
                           max_subscription_bytes=args.max_subscription_bytes, limits=limits, home_secret=secret,
                           cluster=cluster)

    generated = None if args.monitor_token else token
    if args.cluster:
        return asyncio.run(_serve_clustered(build, args, context, generated))
    node = build(state)
    try:
        return asyncio.run(_serve(node, args, context, generated))
    finally:
        node.close()


async def _serve_clustered(build: Callable[[MemoryState | None, Cluster | None], MessageNode],
                           args: argparse.Namespace, context: ssl.SSLContext | None,
                           generated_token: str | None) -> int:
    servers = [url.strip() for url in args.cluster.split(",") if url.strip()]
    cluster = Cluster(servers, args.domain, node_id=args.node_id, monitor_scope=args.monitor_scope)
    try:
        await cluster.connect()
    except ClusterUnavailable as exc:
        print(f"syncscope node: {exc}", file=sys.stderr)
        return 2
    room = cluster.max_payload - CLUSTER_HEADERS
    if room < args.max_message:
        print(f"syncscope node: warning: NATS takes messages up to {cluster.max_payload} bytes; messages over "
              f"{room} bytes cannot cross nodes (--max-message is {args.max_message}): set max_payload: 8MB in "
              f"the NATS server's configuration", file=sys.stderr, flush=True)
    node = build(cluster.state, cluster)
    try:
        return await _serve(node, args, context, generated_token, cluster)
    finally:
        node.close()
        await cluster.close()


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


async def _serve(node: MessageNode, args: argparse.Namespace, context: ssl.SSLContext | None,
                 generated_token: str | None, cluster: Cluster | None = None) -> int:
    server = NodeServer(node, args.host, args.port, ssl_context=context, idle_timeout=args.idle_timeout,
                        max_outgoing=args.max_outgoing, max_outgoing_bytes=args.max_outgoing_bytes,
                        open_timeout=args.open_timeout, max_links=args.max_links)
    try:
        await server.start()
    except OSError as exc:
        print(f"syncscope node: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening on {server.url}", flush=True)
    if cluster is not None:
        cluster.listen_url = server.url
        await cluster.attach(node)
        peers = await cluster.wait_for_members()
        others = [f"{p['node']} ({p.get('url') or '?'})" for p in peers if p.get("node") != cluster.node_id]
        print(f"cluster: node {cluster.node_id} joined {args.domain} on {', '.join(cluster.servers)}; "
              f"peers: {', '.join(others) or 'none yet'}", flush=True)
    if generated_token is not None:
        print(f"monitor token: {generated_token}", flush=True)
    if node.home_secret is None:
        print(f"home sessions: first come (no --home-secret-file: any peer may open as a runtime of {node.domain} "
              f"and allocate its addresses)", flush=True)
    else:
        print("home sessions: must present the domain secret (--home-secret-file)", flush=True)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.close()
    return 0
