"""Passive replicas of a live deployment's objects, built only from what a node's monitor feed shows
(TRANSPORT §4: each message the node routes, as it received it and as it delivered it).

At the node of an object's domain, with its reporter R in runtime A and an observer H in runtime B:

- H's subscribe crosses the node (PROTOCOL §3.2 #5, SM_B → O/subscription, `source` H, with H's
  `identity`), and so does its answer (#9, 200 with the object value: metadata, data, version,
  children): H's replica starts from it, and R's replica is at least at that version.
- Each update (§3.3 #1, O → O/changes) comes in from A once (R's replica takes it) and goes out once
  per subscribed runtime (that runtime's observers take it); children (§3.7) on O/children/n likewise.
- A delete (§3.6 #2 on O/changes) ends every replica; an unsubscribe (§3.5 #2, `source` H) or a
  revocation (R → H `unsubscribe` {resource: O}) ends H's.

What the node does not route it cannot show: observers in the reporter's own runtime, and the data
of an object whose subscribe was answered before the console attached (beyond the node's replay).
Such a reporter is known by its updates (version, no data) until a subscribe answer or a read
answer shows the data. Hyperties are named by the `identity` their messages carry.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from types import SimpleNamespace
from typing import Any

from core.monitor import TraceEvent
from core.protocol.changes import ChangeError, apply_ops, copy_json, parse_attribute, update_ops
from core.protocol.identity import user_of
from ui.naming import object_of

#: Requests remembered while waiting for their answer (subscribes and reads), per node.
MAX_ASKED = 10_000
SUBSCRIPTION = "/subscription"
CHANGES = "/changes"
CHILDREN = "/children/"
HYPERTY_PREFIX = "hyperty://"
REGISTRY_PREFIX = "domain://registry."
RUNTIME_PREFIX = "hyperty-runtime://"


class PassiveRuntime:
    __slots__ = ("domain", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.domain = url[len(RUNTIME_PREFIX):].split("/", 1)[0] if url.startswith(RUNTIME_PREFIX) else ""


class PassiveHyperty:
    """A hyperty of a live deployment, as its messages show it."""

    __slots__ = ("name", "runtime", "url")

    def __init__(self, url: str, runtime: str, name: str) -> None:
        self.url = url
        self.runtime = PassiveRuntime(runtime)
        self.name = name


class PassiveChild:
    __slots__ = ("child_id", "data", "name", "reporter", "version")

    def __init__(self, child_id: str, name: str, reporter: str, data: Any, version: int) -> None:
        self.child_id, self.name, self.reporter, self.data, self.version = child_id, name, reporter, data, version


class PassiveObject:
    """One replica as seen at the node: what the views read of an engine replica, and nothing to edit."""

    closed = False

    def __init__(self, url: str, value: dict[str, Any] | None = None) -> None:
        self.url = url
        self.metadata: dict[str, Any] = {}
        self.schema = ""
        self.data: Any = {}
        self.version = 0
        #: Whether the data was seen (a subscribe or read answer); until then only the version is known.
        self.known = False
        self.status = "live"
        self.children: dict[str, PassiveChild] = {}
        self.childrens: list[str] = []
        self.subscriptions: list[str] = []   # a reporter's: the observers seen subscribing
        self._handlers: list[Callable[[Any], None]] = []
        if value is not None:
            self.take(value)

    def take(self, value: dict[str, Any]) -> None:
        """Become the object value of a subscribe or read answer (PROTOCOL §3.0.5)."""
        self.metadata = {k: v for k, v in value.items() if k not in ("data", "childrenObjects")}
        self.schema = str(value.get("schema", self.schema))
        childrens = value.get("childrens")
        self.childrens = [str(n) for n in childrens] if isinstance(childrens, list) else self.childrens
        self.data = copy_json(value.get("data", {}))
        version = value.get("version")
        self.version = version if isinstance(version, int) and not isinstance(version, bool) else self.version
        self.known = True
        self.children = {}
        children = value.get("childrenObjects")
        for cid, entry in (children.items() if isinstance(children, dict) else ()):
            child = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(child, dict):
                self.add_child(str(cid), child)
        self._changed("")

    def update(self, body: dict[str, Any]) -> None:
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version <= self.version:
            return
        self.version = version
        if self.known and ("attribute" in body or "patch" in body) and not fast_set(self.data, body):
            try:
                apply_ops(self.data, update_ops(self.data, body))
            except ChangeError:
                self.known = False  # the node's view lost a step: data unknown until shown again
        attribute = body.get("attribute")
        self._changed(attribute if isinstance(attribute, str) else "")

    def add_child(self, cid: str, value: dict[str, Any]) -> None:
        version = value.get("version", 0)
        self.children[cid] = PassiveChild(cid, str(value.get("children", value.get("name", ""))),
                                          str(value.get("reporter", "")), copy_json(value.get("data", {})),
                                          version if isinstance(version, int) else 0)

    def child_update(self, cid: str, body: dict[str, Any]) -> None:
        child = self.children.get(cid)
        version = body.get("version")
        if child is None or not isinstance(version, int) or version <= child.version:
            return
        child.version = version
        if "attribute" not in body and "patch" not in body and "value" in body:
            child.data = copy_json(body["value"])  # PROTOCOL §3.7: no attribute replaces the child's data
            return
        with suppress(ChangeError):  # a child the node's view got wrong keeps its last data
            apply_ops(child.data, update_ops(child.data, body))

    def on_change(self, handler: Callable[[Any], None]) -> Callable[[], None]:
        self._handlers.append(handler)

        def stop() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return stop

    def _changed(self, field: str) -> None:
        if self._handlers:
            event = SimpleNamespace(field=field)
            for handler in list(self._handlers):
                handler(event)


#: One change of the replicas a node shows: (object URL, hyperty URL, is the reporter's, replica or None).
Change = tuple[str, str, bool, PassiveObject | None]


class PassiveNode:
    """The replicas one watched node shows, fed with that node's trace events in order."""

    def __init__(self, name: str, namer_hyperty: Callable[[str, str], None]) -> None:
        self.name = name
        self.name_hyperty = namer_hyperty
        self.reporters: dict[str, tuple[PassiveHyperty, PassiveObject]] = {}
        #: object → hyperty → (hyperty, replica)
        self.observers: dict[str, dict[str, tuple[PassiveHyperty, PassiveObject]]] = {}
        self.hyperties: dict[str, PassiveHyperty] = {}
        self._asked: dict[tuple[str, Any], tuple[str, str]] = {}   # (from, id) → (kind, hyperty or object)

    def observe(self, event: TraceEvent, changes: list[Change]) -> None:
        msg = event.message
        if event.kind != "message" or msg is None or event.direction not in ("in", "out"):
            return
        body = msg.get("body")
        if not isinstance(body, dict):
            return
        mtype, to, sender = msg.get("type"), str(msg.get("to", "")), str(msg.get("from", ""))
        if event.direction == "in":
            if mtype == "update" and to.endswith(CHANGES):
                self._reporter_update(object_of(to), body, changes)
            elif mtype == "subscribe" and to.endswith(SUBSCRIPTION):
                self._subscribe(msg, body, to[: -len(SUBSCRIPTION)])
            elif mtype == "read" and object_of(to) == to:
                self._remember(sender, msg.get("id"), ("read", to))
            elif mtype == "response":
                self._response(msg, body, to, changes)
            elif mtype == "unsubscribe":
                self._unsubscribe(body, to, sender, changes)
            elif mtype == "delete" and to.endswith(CHANGES):
                self._deleted(object_of(to), changes)
            elif mtype == "create" and to.startswith(REGISTRY_PREFIX):
                self._registered(body.get("value"), changes)
            elif CHILDREN in to and mtype in ("create", "update", "delete"):
                self._child(object_of(to), to, str(mtype), body)
            self._name(sender, msg, body)
        elif mtype == "update" and to.endswith(CHANGES):
            self._delivered(object_of(to), str(event.detail.get("session", "")), body)

    # what crosses the node ------------------------------------------------------------------------

    def _remember(self, sender: str, ident: Any, what: tuple[str, str]) -> None:
        self._asked[(sender, ident)] = what
        if len(self._asked) > MAX_ASKED:
            self._asked.pop(next(iter(self._asked)))

    def _subscribe(self, msg: dict[str, Any], body: dict[str, Any], url: str) -> None:
        source = body.get("source")
        if isinstance(source, str) and source.startswith(HYPERTY_PREFIX):
            self._remember(str(msg.get("from", "")), msg.get("id"), ("subscribe", source))
            self._hyperty(source, str(msg.get("from", "")), body.get("identity"))

    def _response(self, msg: dict[str, Any], body: dict[str, Any], to: str, changes: list[Change]) -> None:
        asked = self._asked.get((to, msg.get("id")))
        code = body.get("code")
        if asked is None or not isinstance(code, int) or code < 200:
            return
        del self._asked[(to, msg.get("id"))]
        value = body.get("value")
        if code != 200 or not isinstance(value, dict):
            return
        kind, who = asked
        url = object_of(str(msg.get("from", "")))
        if kind == "read":
            for _, replica in self._replicas_of(url):
                if not replica.known or replica.version <= known_version(value):
                    replica.take(value)
            return
        hyperty = self._hyperty(who, to, None)
        known = self.observers.setdefault(url, {}).get(who)
        if known is None:
            replica = PassiveObject(url, value)
            self.observers[url][who] = (hyperty, replica)
            changes.append((url, who, False, replica))
        else:
            known[1].take(value)
        reporter_url = str(body.get("reporter") or value.get("reporter") or "")
        reporter = self._reporter(url, reporter_url, changes)
        if reporter is not None:
            if not reporter.known or reporter.version <= known_version(value):
                reporter.take(value)
            if who not in reporter.subscriptions:
                reporter.subscriptions.append(who)

    def _registered(self, value: Any, changes: list[Change]) -> None:
        """A registration (PROTOCOL §3.1 step 6): the object, its name, schema, reporter and runtime;
        its data is seen with the first subscribe answer."""
        if not isinstance(value, dict) or not isinstance(value.get("url"), str) or \
                not isinstance(value.get("reporter"), str):
            return
        url, reporter_url = str(value["url"]), str(value["reporter"])
        if url in self.reporters:
            return
        self._hyperty(reporter_url, str(value.get("runtime", "")) + "/sm", None)
        replica = self._reporter(url, reporter_url, changes)
        if replica is not None and not replica.known:
            replica.metadata = {k: v for k, v in value.items() if k in ("url", "name", "schema", "reporter", "runtime")}
            replica.schema = str(value.get("schema", ""))
            childrens = value.get("childrens")
            replica.childrens = [str(n) for n in childrens] if isinstance(childrens, list) else []

    def _reporter(self, url: str, reporter_url: str, changes: list[Change]) -> PassiveObject | None:
        mine = self.reporters.get(url)
        if mine is not None and (not reporter_url or mine[0].url == reporter_url):
            return mine[1]
        if not reporter_url:
            return None
        hyperty = self._hyperty(reporter_url, "", None)
        replica = PassiveObject(url)
        if mine is not None:  # the reporter role moved (delegation): the new one takes over the view
            replica.data, replica.version, replica.known = mine[1].data, mine[1].version, mine[1].known
            changes.append((url, mine[0].url, True, None))
        self.reporters[url] = (hyperty, replica)
        changes.append((url, reporter_url, True, replica))
        return replica

    def _reporter_update(self, url: str, body: dict[str, Any], changes: list[Change]) -> None:
        mine = self.reporters.get(url)
        if mine is None:
            source = body.get("source")
            replica = self._reporter(url, source if isinstance(source, str) else "", changes)
            if replica is None:
                return
        else:
            replica = mine[1]
        replica.update(body)

    def _delivered(self, url: str, runtime: str, body: dict[str, Any]) -> None:
        for hyperty, replica in self.observers.get(url, {}).values():
            if hyperty.runtime.url == runtime:
                replica.update(body)

    def _unsubscribe(self, body: dict[str, Any], to: str, sender: str, changes: list[Change]) -> None:
        source = body.get("source")
        if to.endswith(SUBSCRIPTION) and isinstance(source, str):
            self._observer_gone(to[: -len(SUBSCRIPTION)], source, changes)
        resource = body.get("resource")
        if to.startswith(HYPERTY_PREFIX) and isinstance(resource, str):  # a revocation, R → H
            self._observer_gone(resource, to, changes)

    def _observer_gone(self, url: str, hyperty: str, changes: list[Change]) -> None:
        theirs = self.observers.get(url)
        if theirs is not None and theirs.pop(hyperty, None) is not None:
            changes.append((url, hyperty, False, None))
            if not theirs:
                del self.observers[url]
            mine = self.reporters.get(url)
            if mine is not None and hyperty in mine[1].subscriptions:
                mine[1].subscriptions.remove(hyperty)

    def _deleted(self, url: str, changes: list[Change]) -> None:
        mine = self.reporters.pop(url, None)
        if mine is not None:
            changes.append((url, mine[0].url, True, None))
        for hyperty in self.observers.pop(url, {}):
            changes.append((url, hyperty, False, None))

    def _child(self, url: str, to: str, mtype: str, body: dict[str, Any]) -> None:
        cid = body.get("resource")
        if not isinstance(cid, str):
            return
        for _, replica in self._replicas_of(url):
            if mtype == "create":
                value = body.get("value")
                if isinstance(value, dict) and cid not in replica.children:
                    replica.add_child(cid, {**value, "children": value.get("children", to.rsplit("/", 1)[-1])})
            elif mtype == "update":
                replica.child_update(cid, body)
            else:
                replica.children.pop(cid, None)
            replica._changed("")

    def _replicas_of(self, url: str) -> list[tuple[PassiveHyperty, PassiveObject]]:
        mine = self.reporters.get(url)
        return ([mine] if mine is not None else []) + list(self.observers.get(url, {}).values())

    # names ----------------------------------------------------------------------------------------

    def _hyperty(self, url: str, sm: str, identity: Any) -> PassiveHyperty:
        hyperty = self.hyperties.get(url)
        runtime = sm[: -len("/sm")] if sm.endswith("/sm") else ""
        if hyperty is None:
            hyperty = self.hyperties[url] = PassiveHyperty(url, runtime, "")
        elif runtime and not hyperty.runtime.url:
            hyperty.runtime = PassiveRuntime(runtime)
        name = username(identity)
        if name and hyperty.name != name:
            hyperty.name = name
            self.name_hyperty(url, name)
        if not hyperty.name:
            hyperty.name = url.rsplit("/", 1)[-1][:6] + "…"
        return hyperty

    def _name(self, sender: str, msg: dict[str, Any], body: dict[str, Any]) -> None:
        """Name a hyperty its message's identity names (subscribe, create, invitation answers)."""
        identity = body.get("identity")
        if identity is None:
            return
        who = sender if sender.startswith(HYPERTY_PREFIX) else body.get("source")
        if isinstance(who, str) and who.startswith(HYPERTY_PREFIX):
            name = username(identity)
            if name:
                self.name_hyperty(who, name)
                known = self.hyperties.get(who)
                if known is not None:
                    known.name = name


def fast_set(doc: Any, body: dict[str, Any]) -> bool:
    """Apply the commonest update, a value set at a path of existing object keys (PROTOCOL §3.3.1),
    in place, as `update_ops`/`apply_ops` would; False (nothing done) for any other form. Every
    update a node routes reaches a replica or two here, at thousands a second."""
    if "patch" in body or "attributeType" in body or "operation" in body or "value" not in body:
        return False
    try:
        keys = parse_attribute(body.get("attribute"))  # the engine's rule (a URL key stays whole)
    except ChangeError:
        return False
    node = doc
    for key in keys[:-1]:
        if not isinstance(node, dict):
            return False
        node = node.get(key)
    if not isinstance(node, dict) or not keys[-1]:
        return False
    value = body["value"]
    node[keys[-1]] = copy_json(value) if isinstance(value, (dict, list)) else value
    return True


def username(identity: Any) -> str:
    """`identity.userProfile.username` (PROTOCOL §2.2), else the user URL's last part, else ''."""
    if isinstance(identity, dict):
        profile = identity.get("userProfile")
        if isinstance(profile, dict) and isinstance(profile.get("username"), str) and profile["username"]:
            return str(profile["username"])[:64]
    user = user_of(identity)
    return user.rsplit("/", 1)[-1][:64] if user else ""


def known_version(value: dict[str, Any]) -> int:
    version = value.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else 0
