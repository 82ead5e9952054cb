"""`syncscope runtime`: a headless runtime on a WebSocket node, driven by a scenario file.

    syncscope runtime --node ws://127.0.0.1:9001/ --domain a.example --script chat-reporter.json \\
                      [--visit b.example=ws://127.0.0.1:9002/ …] [--flavour rethink]

`--flavour rethink` plays a runtime of reTHINK's own implementation on the wire (INTEROP.md), for
tests: a `runtime://` URL, hyperty and object URLs minted locally and claimed by subscribe,
`re-open` from `<runtimeURL>/<runtimeToken>` after a lost link, string attributes only,
`subscriber` instead of `source`, `childrenObjects` nested by name, reasons as `desc`.

Messages leave through the node of their destination's domain (PROTOCOL §1.4 step 5), answers
too: a reporter whose observers live in another domain needs `--visit` for that domain's node.

The scenario (JSON; see `resources/scenarios/`) names the runtime's hyperties and a list of steps
run in order, each `{"do": <step>, …}`:

- `create`: `hyperty`, `schema`, `as` (the alias later steps use), optional `name`, `data`,
  `observers` (hyperty URLs), `store`, `accept` (accept every subscription, default true).
- `find`: wait until the registry of `domain` lists a live object called `name`; saved `as`.
- `subscribe`: `hyperty` subscribes to `object` (an alias or a URL), optional `schema`, `as`.
- `edit`: set `path` of reporter `object` to 1, 2, … `count`, at `rate` edits per second.
- `set`: set `path` (a string or a list of keys) of reporter `object` to `value` once.
- `remove`: remove `path` of reporter `object`.
- `insert`: insert `items` at `index` of the list at `path`; `remove_items`: remove `count` (1) from `index`.
- `batch`: `edits`, each `{"set": path, "value": v}` or `{"remove": path}`, as one update.
- `edit_child`: set `path` of this runtime's newest child of `object` to `value`.
- `add_child`: `object`, `name` (children collection), `data`.
- `wait`: until `object` has `version` ≥ n, `children` ≥ n, or `path` equals `equals`; `timeout` seconds.
- `wait_deleted`: until `object` is deleted by its reporter.
- `wait_subscribers`: until reporter `object` has `count` subscribers (at most `count` with
  `"at_most": true`, e.g. 0 to wait until every observer has unsubscribed).
- `read`: read `object` once (its version goes in the summary).
- `delegate`: reporter `object` hands its role to `to` (a URL, or `"subscriber"` for its first one).
- `unsubscribe`, `delete`: `object`.
- `sleep`: `seconds`.

At the end one JSON line sums up: per object alias its URL, role, version and a digest of its data
and of its children's data (equal digests mean equal replicas), the edits sent, changes received,
reconnections, and `ok`.
Exit status 0 when every step succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ssl
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from core.net.websocket import WebSocketConnector
from core.node.home_secret import read_secret
from core.protocol import address as addr
from core.protocol import changes as ch
from core.protocol.message import SyncError, code_of
from core.runtime.hyperty import Hyperty
from core.runtime.runtime import Runtime
from core.sync.data_object import DataObject
from core.sync.reporter import DataObjectReporter

#: Seconds a `find`, `wait` or `wait_subscribers` step waits unless it says otherwise.
DEFAULT_WAIT = 30.0
#: Seconds between two registry queries of a `find` step.
FIND_EVERY = 0.1


class ScenarioError(Exception):
    """A step that cannot run as written (the message names the step)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node", required=True, metavar="URL", help="home node, ws://host:port/ or wss://")
    parser.add_argument("--domain", required=True, help="the runtime's domain (the home node's)")
    parser.add_argument("--script", required=True, metavar="FILE", help="scenario JSON file")
    parser.add_argument("--visit", action="append", default=[], metavar="DOMAIN=URL",
                        help="another domain's node, opened on demand (repeatable); needed for every domain "
                             "whose objects or runtimes this one talks to, answers included")
    parser.add_argument("--id", default="", help="runtime id (default random): URL hyperty-runtime://<domain>/<id>")
    parser.add_argument("--flavour", choices=("syncscope", "rethink"), default="syncscope",
                        help="rethink: act as a reTHINK runtime on the wire (URL runtime://<domain>/<id>)")
    parser.add_argument("--ca", metavar="FILE", help="CA certificate (PEM) to trust for wss:// nodes")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S", help="give up after S seconds")
    parser.add_argument("--home-secret-file", metavar="F",
                        help="file holding the home domain's secret (for a node started with --home-secret-file)")


def run(args: argparse.Namespace) -> int:
    try:
        nodes = {args.domain: args.node, **dict(_visit(v) for v in args.visit)}
        scenario = orjson.loads(Path(args.script).read_bytes())
        if not isinstance(scenario, dict) or not isinstance(scenario.get("steps"), list):
            raise ScenarioError(f"{args.script}: a scenario is an object with a list of steps")
        context = ssl.create_default_context(cafile=args.ca) if args.ca else None
        secret = read_secret(args.home_secret_file) if args.home_secret_file else None
    except (OSError, ValueError, ScenarioError, ssl.SSLError) as exc:
        print(f"syncscope runtime: {exc}", file=sys.stderr)
        return 2
    ident = args.id or (str(uuid.uuid4()) if args.flavour == "rethink" else f"rt-{uuid.uuid4().hex[:8]}")
    url = f"{addr.RETHINK_RUNTIME}://{args.domain}/{ident}" if args.flavour == "rethink" \
        else addr.runtime_url(args.domain, ident)
    summary = asyncio.run(_main(scenario, nodes, url, context, args.timeout, secret))
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0 if summary["ok"] else 1


def _visit(text: str) -> tuple[str, str]:
    domain, sep, url = text.partition("=")
    if not sep or not domain or not url:
        raise ScenarioError(f"--visit {text!r}: expected DOMAIN=URL")
    return domain, url


async def _main(scenario: dict[str, Any], nodes: dict[str, str], url: str,
                context: ssl.SSLContext | None, timeout: float, secret: str | None = None) -> dict[str, Any]:
    connector = WebSocketConnector(nodes, ssl_context=context)
    runtime = Runtime(url, connector=connector, home_secret=secret)
    player = Player(runtime, scenario)
    started = time.monotonic()
    try:
        await asyncio.wait_for(player.play(), timeout)
    except (SyncError, ScenarioError, TimeoutError, ConnectionError, KeyError, TypeError, ValueError) as exc:
        player.error = f"step {player.step}: {type(exc).__name__}: {exc}"
    finally:
        summary = player.summary(time.monotonic() - started)
        await runtime.close()
        await connector.close()
    return summary


class Player:
    """Runs one scenario's steps on `runtime`, keeping what the summary reports."""

    def __init__(self, runtime: Runtime, scenario: dict[str, Any]) -> None:
        self.runtime = runtime
        self.scenario = scenario
        self.hyperties: dict[str, Hyperty] = {}
        self.objects: dict[str, DataObject | _Found] = {}
        self.step = 0
        self.edits = 0
        self.changes = 0
        self.children: dict[str, Any] = {}   # object URL → the newest child this runtime added
        self.error: str | None = None

    async def play(self) -> None:
        await self.runtime.start()
        for name in self.scenario.get("hyperties", []):
            hyperty = self.hyperties[name] = await self.runtime.hyperty(str(name))
            hyperty.syncher.on_notification(lambda event: event.accept())
        for number, step in enumerate(self.scenario["steps"], 1):
            self.step = number
            if not isinstance(step, dict) or not isinstance(step.get("do"), str):
                raise ScenarioError("each step is an object with a `do`")
            action = getattr(self, "do_" + step["do"], None)
            if action is None:
                raise ScenarioError(f"unknown step {step['do']!r}")
            await action(step)

    # steps --------------------------------------------------------------------------------------

    async def do_create(self, step: dict[str, Any]) -> None:
        hyperty = self._hyperty(step)
        reporter = await hyperty.syncher.create(
            step["schema"], data=step.get("data", {}), observers=step.get("observers", []),
            store=bool(step.get("store", False)), name=str(step.get("name", "")))
        if step.get("accept", True):
            reporter.on_subscription(lambda event: event.accept())
        self._keep(step, reporter)

    async def do_find(self, step: dict[str, Any]) -> None:
        domain, name = str(step["domain"]), str(step["name"])
        deadline = time.monotonic() + float(step.get("timeout", DEFAULT_WAIT))
        while True:
            found = await self._registered(domain, name)
            if found is not None:
                self.objects[str(step.get("as", name))] = _Found(str(found["url"]), str(found.get("schema")))
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"no live object {name!r} in {domain}")
            await asyncio.sleep(FIND_EVERY)

    async def _registered(self, domain: str, name: str) -> dict[str, Any] | None:
        """The first live object called `name` in the registry of `domain`: a read filtered by name,
        page after page while the node answers `next` (docs/LIMITS.md)."""
        body: dict[str, Any] = {"name": name}
        while True:
            answer = await self.runtime.bus.request({"type": "read", "from": self.runtime.url + "/registry",
                                                     "to": addr.registry(domain), "body": body})
            if code_of(answer) != 200:
                raise SyncError(code_of(answer), f"registry of {domain} answered", answer)
            page = answer["body"].get("value", [])
            found = [o for o in page if isinstance(o, dict) and o.get("name") == name] if isinstance(page, list) else []
            if found:
                return found[0]
            after = answer["body"].get("next")
            if not isinstance(after, str) or not after:
                return None
            body = {"name": name, "after": after}

    async def do_subscribe(self, step: dict[str, Any]) -> None:
        hyperty = self._hyperty(step)
        url, schema = self._url(step["object"])
        observer = await hyperty.syncher.subscribe(url, step.get("schema") or schema)
        observer.on_change(self._changed)
        self._keep(step, observer, default=str(step["object"]))

    async def do_edit(self, step: dict[str, Any]) -> None:
        reporter = self._reporter(step)
        count, rate = int(step.get("count", 1)), float(step.get("rate", 0))
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(1, count + 1):
            reporter.set(step["path"], i)
            self.edits += 1
            if rate > 0:
                await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            elif i % 100 == 0:
                await asyncio.sleep(0)  # let the link write between bursts

    async def do_set(self, step: dict[str, Any]) -> None:
        self._reporter(step).set(step["path"], step.get("value"))
        self.edits += 1

    async def do_remove(self, step: dict[str, Any]) -> None:
        self._reporter(step).remove(step["path"])
        self.edits += 1

    async def do_insert(self, step: dict[str, Any]) -> None:
        self._reporter(step).insert(step["path"], int(step.get("index", 0)), *step.get("items", []))
        self.edits += 1

    async def do_remove_items(self, step: dict[str, Any]) -> None:
        reporter = self._reporter(step)
        target: Any = reporter.data
        for key in ch.parse_attribute(step["path"]):
            target = target[int(key)] if isinstance(target, list) else target[key]
        index, count = int(step.get("index", 0)), int(step.get("count", 1))
        del target[index:index + count]
        self.edits += 1

    async def do_batch(self, step: dict[str, Any]) -> None:
        reporter = self._reporter(step)
        with reporter.batch():
            for edit in step.get("edits", []):
                if "set" in edit:
                    reporter.set(edit["set"], edit.get("value"))
                else:
                    reporter.remove(edit["remove"])
        self.edits += 1

    async def do_add_child(self, step: dict[str, Any]) -> None:
        obj = self._object(step)
        child = await obj.add_child(str(step["name"]), step.get("data", {}))  # type: ignore[attr-defined]
        self.children[obj.url] = child

    async def do_edit_child(self, step: dict[str, Any]) -> None:
        child = self.children.get(self._object(step).url)
        if child is None:
            raise ScenarioError(f"no child of {step.get('object')!r} added here")
        child.data[str(step["path"])] = step.get("value")
        self.edits += 1

    async def do_wait_deleted(self, step: dict[str, Any]) -> None:
        obj = self._object(step)
        deadline = time.monotonic() + float(step.get("timeout", DEFAULT_WAIT))
        while not obj.closed:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{step['object']} was not deleted")
            await asyncio.sleep(0.02)

    async def do_wait(self, step: dict[str, Any]) -> None:
        obj = self._object(step)
        deadline = time.monotonic() + float(step.get("timeout", DEFAULT_WAIT))
        while not _reached(obj, step):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{step['object']} at version {obj.version} did not reach {step}")
            await asyncio.sleep(0.02)

    async def do_wait_subscribers(self, step: dict[str, Any]) -> None:
        reporter = self._reporter(step)
        deadline = time.monotonic() + float(step.get("timeout", DEFAULT_WAIT))
        count, at_most = int(step.get("count", 1)), bool(step.get("at_most", False))
        while (len(reporter.subscriptions) > count) if at_most else (len(reporter.subscriptions) < count):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{step['object']} has {len(reporter.subscriptions)} subscribers")
            await asyncio.sleep(0.02)

    async def do_read(self, step: dict[str, Any]) -> None:
        hyperty = self._hyperty(step)
        url, _ = self._url(step["object"])
        value = await hyperty.syncher.read(url)
        self.objects[str(step.get("as", f"read {step['object']}"))] = _Found(url, str(value.get("schema", "")),
                                                                             value)

    async def do_delegate(self, step: dict[str, Any]) -> None:
        reporter = self._reporter(step)
        target = str(step["to"])
        if target == "subscriber":
            if not reporter.subscriptions:
                raise ScenarioError("delegate to the first subscriber, but there is none")
            target = next(iter(reporter.subscriptions))
        delegate = getattr(reporter, "delegate", None)
        if delegate is None:
            raise ScenarioError("this build has no reporter delegation")
        await delegate(target)

    async def do_unsubscribe(self, step: dict[str, Any]) -> None:
        await self._object(step).unsubscribe()  # type: ignore[attr-defined]

    async def do_delete(self, step: dict[str, Any]) -> None:
        await self._reporter(step).delete()

    async def do_sleep(self, step: dict[str, Any]) -> None:
        await asyncio.sleep(float(step.get("seconds", 0)))

    # helpers ------------------------------------------------------------------------------------

    def _changed(self, _event: Any) -> None:
        self.changes += 1

    def _hyperty(self, step: dict[str, Any]) -> Hyperty:
        name = step.get("hyperty") or next(iter(self.hyperties), None)
        if name not in self.hyperties:
            raise ScenarioError(f"hyperty {name!r} is not in the scenario's hyperties")
        return self.hyperties[name]

    def _keep(self, step: dict[str, Any], obj: DataObject, default: str = "") -> None:
        self.objects[str(step.get("as") or default or obj.url)] = obj

    def _object(self, step: dict[str, Any]) -> DataObject:
        obj = self.objects.get(str(step.get("object")))
        if not isinstance(obj, DataObject):
            raise ScenarioError(f"no object {step.get('object')!r} (create or subscribe it first)")
        return obj

    def _reporter(self, step: dict[str, Any]) -> DataObjectReporter:
        obj = self._object(step)
        if not isinstance(obj, DataObjectReporter):
            raise ScenarioError(f"{step.get('object')!r} is not reported here")
        return obj

    def _url(self, ref: Any) -> tuple[str, str | None]:
        known = self.objects.get(str(ref))
        if known is not None:
            return known.url, known.schema
        if isinstance(ref, str) and "://" in ref:
            return ref, None
        raise ScenarioError(f"no object {ref!r} (find it first)")

    def summary(self, elapsed: float) -> dict[str, Any]:
        objects = {}
        for alias, obj in self.objects.items():
            role = "reporter" if isinstance(obj, DataObjectReporter) else "found" if isinstance(obj, _Found) \
                else "observer"
            objects[alias] = {"url": obj.url, "role": role, "version": obj.version, "digest": _digest(obj.data)}
            if isinstance(obj, DataObject):
                objects[alias]["children"] = _digest({cid: c.data for cid, c in obj.children.items()})
        home = self.runtime.stubs.get(self.runtime.domain)
        return {"scenario": self.scenario.get("name", ""), "runtime": self.runtime.url, "ok": self.error is None,
                "error": self.error, "steps": self.step if self.error is None else self.step - 1,
                "elapsed_s": round(elapsed, 3), "objects": objects, "edits_sent": self.edits,
                "changes_received": self.changes,
                "reconnections": sum(max(0, s.opens - 1) for s in self.runtime.stubs.values()),
                "home_session": home.state.value if home is not None else "none"}


class _Found:
    """An object known by URL only (from the registry or a read)."""

    def __init__(self, url: str, schema: str | None, value: dict[str, Any] | None = None) -> None:
        self.url = url
        self.schema = schema
        self.data = (value or {}).get("data", {})
        self.version = (value or {}).get("version", -1)


def _reached(obj: DataObject, step: dict[str, Any]) -> bool:
    if "version" in step and obj.version < int(step["version"]):
        return False
    if "children" in step and len(obj.children) < int(step["children"]):
        return False
    if "path" in step:
        node: Any = obj.data
        for segment in str(step["path"]).split("."):
            if isinstance(node, dict) and segment in node:
                node = node[segment]
            elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
                node = node[int(segment)]
            else:
                return False
        return bool(node == step.get("equals"))
    return True


def _digest(data: Any) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
