"""Resume after a restart (PROTOCOL §3.8): the Sync Manager rebuilds reporter and observer objects
from the stored records selected by the request's criteria (combined with AND)."""

from __future__ import annotations

import asyncio
from itertools import chain
from typing import Any

from core.protocol import address as addr
from core.protocol.changes import copy_json
from core.protocol.encoded import decoded
from core.protocol.identity import user_of
from core.protocol.message import Message, code_of, description_of, response
from core.protocol.versions import VersionTracker
from core.runtime.observer_object import ObserverObject, Subscription, SubscriptionState
from core.runtime.refusal import Refusal
from core.runtime.reporter_object import ObjectState, ReporterObject
from core.runtime.sm_part import SmPart

NO_REPORTERS = "No data objects reporters to be resumed"
NO_OBSERVERS = "No data objects observers to be resumed"


_CRITERIA = frozenset(("identity", "schema", "resource", "value"))


def select(records: dict[str, dict[str, Any]], b: dict[str, Any], hyperty: str,
           reporter_side: bool) -> list[dict[str, Any]]:
    """The base set (the records of `hyperty`: its reporter records, or the observer records it is
    subscribed in) narrowed by each given criterion: schema, resource, value keys, identity."""
    if not _CRITERIA.intersection(b):        # a plain resume (a restart's): the base set alone
        if reporter_side:
            return [record for record in records.values() if record.get("reporter") == hyperty]
        return [record for record in records.values() if hyperty in record.get("subscriptions", [])]
    identity = user_of(b.get("identity")) if "identity" in b else ""
    chosen = []
    for record in records.values():
        if not identity and not (record.get("reporter") == hyperty if reporter_side
                                 else hyperty in record.get("subscriptions", [])):
            continue
        if "schema" in b and record.get("schema") != b["schema"]:
            continue
        if "resource" in b and record.get("url") != b["resource"]:
            continue
        value = b.get("value")
        if isinstance(value, dict) and any(decoded(record.get(k)) != v for k, v in value.items()):
            continue
        if identity:
            users = record.get("subscriberUsers", [])
            owner = users[:1] if reporter_side else users
            if identity not in owner:
                continue
        chosen.append(record)
    return chosen


#: record fields that are not part of the object value (PROTOCOL §3.0.5)
_NOT_VALUE = frozenset(("isReporter", "subscriptions", "subscriberUsers", "preAuthorised", "store", "stale",
                        "delegationToken", "rethinkSubscribers"))
_NOT_METADATA = _NOT_VALUE | {"data", "version", "childrenObjects"}
#: what a rebuilt reporter's and observer's record holds beside its metadata and is not read by the rebuild
_UNREAD_BY_REPORTERS = tuple(_NOT_METADATA - {"rethinkSubscribers", "subscriptions", "store", "preAuthorised",
                                              "subscriberUsers", "data", "childrenObjects", "version"})
_UNREAD_BY_OBSERVERS = tuple(_NOT_METADATA - {"version", "data", "childrenObjects", "subscriptions", "store",
                                              "stale"})


def _without(record: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """A copy of `record` less `keys` (copy and pop: several times faster than a filtering comprehension,
    and faster than deleting only the keys a set intersection finds)."""
    out = dict(record)
    for key in keys:
        out.pop(key, None)
    return out


def value_of(record: dict[str, Any]) -> dict[str, Any]:
    """The object value (PROTOCOL §3.0.5) a record gives; data and children only if stored."""
    value = _without(record, _NOT_VALUE)
    value.setdefault("data", {})
    value.setdefault("childrenObjects", {})
    return value


def _rethink_of(record: dict[str, Any]) -> dict[str, Any]:
    """The reTHINK subscribers a resumed reporter's Syncher must keep writing for (INTEROP §4)."""
    rethink = record.get("rethinkSubscribers")
    return {"rethinkSubscribers": rethink} if rethink else {}


class Resumer(SmPart):
    async def reporters(self, msg: Message) -> None:
        """#1r R' → SM : create {resume: true, …}. Node subscriptions and registrations of all the
        selected records go out together (a resume of thousands of objects is not thousands of
        round trips)."""
        hyperty = self.sm._local_hyperty(msg)
        b = msg.get("body", {})
        records = select(self.runtime.stored("reporter", encoded_data=True), b, hyperty, True)
        values, announce, rebuilt = [], [], []
        unwired: list[ReporterObject] = []   # rebuilt, their listeners filed together (`_attach_reporters`)
        for record in records:
            url = str(record["url"])
            live = self.sm.reporters.get(url)
            if live is not None:
                if live.state is ObjectState.LIVE and live.owner == hyperty:
                    record = live.record()
                    # a copy: the replica must not share the SM's document
                    values.append({**value_of(record), "data": copy_json(live.document() or {}),
                                   "subscriptions": sorted(live.subscriptions), "store": live.store,
                                   **_rethink_of(record)})
                continue
            token = record.get("delegationToken")
            standby = isinstance(token, str) and bool(token)
            if standby:
                self.sm._attach_reporters(unwired)        # as each would be before the query's wait
                unwired = []
                if await self.sm.delegations.owner_query(url, str(token)) != self.runtime.url:
                    self.runtime.forget_reporter(url)     # the commit never happened: not ours
                    continue
            was, rethink = record.get("reporter"), record.get("rethinkSubscribers")
            ro = self._rebuild_reporter(record, hyperty)
            unwired.append(ro)
            rebuilt.append((was, rethink, ro, standby))
        self.sm._attach_reporters(unwired)
        routed = [(ro, ro.node_addresses()) for _w, _r, ro, _s in rebuilt if ro.routed]
        reply = await self.runtime.routing.subscribe(list(chain.from_iterable(held for _ro, held in routed)),
                                                     retries=self.sm.timers.mn_retries)
        refused = set()
        if code_of(reply) != 200:                        # find which ones, one by one
            refused = {ro.url for ro, _held in routed if not await self._route_one(ro)}
        for ro, held in routed:
            if ro.url not in refused:
                ro.mns = held
        await self._register([ro for _w, _r, ro, _s in rebuilt if ro.registered and ro.url not in refused])
        for was, rethink, ro, standby in rebuilt:
            if ro.url in refused:
                continue
            changed = was != hyperty or standby
            if changed:
                announce.append(ro.url)                  # the new reporter publishes a reporter change first
                self.runtime.persist_reporter(ro)
            # `value_of` of its metadata, split out already: a copy, not a filter (a literal: no call
            # and no keyword dict per object)
            value = {**ro.metadata, "version": ro.version, "data": ro.data if ro.data is not None else {},
                     "childrenObjects": ro.children_objects, "subscriptions": sorted(ro.subscriptions),
                     "store": ro.store}
            if rethink:   # the reTHINK subscribers its Syncher must keep writing for (INTEROP §4)
                value["rethinkSubscribers"] = rethink
            values.append(value)
            if self.sm.monitor.active:
                self.sm.monitor.emit("object", self.runtime.url, action="resumed", role="reporter", object=ro.url,
                                     version=ro.version, reporter=hyperty)
        if not values:
            raise Refusal(404, NO_REPORTERS)
        self.bus.reply(msg, 200, value=values, announce=announce)

    async def _route_one(self, ro: ReporterObject) -> bool:
        reply = await self.runtime.routing.subscribe(ro.node_addresses(), retries=self.sm.timers.mn_retries)
        if code_of(reply) == 200:
            return True
        self.sm._detach_reporter(ro)
        if code_of(reply) == 403:                        # owned elsewhere (e.g. a crash after §4 #8)
            self.runtime.forget_reporter(ro.url)
        else:                                            # kept: a node that lost its state must not cost data
            self.sm.monitor.emit("error", self.runtime.url, object=ro.url,
                                 error=f"not resumed: node answered {code_of(reply)} {description_of(reply)}")
        return False

    async def _register(self, objects: list[ReporterObject]) -> None:
        """Re-register resumed objects with status live (PROTOCOL §3.8): one registry request per node
        and per thousand objects, all in flight at once."""
        by_domain: dict[str, list[dict[str, Any]]] = {}
        head, group = "", []   # `scheme://domain/` of the last URL: the next is likely under it too
        runtime = self.runtime.url
        for ro in objects:
            if not (head and ro.url.startswith(head)):
                domain = ro.domain
                group = by_domain.setdefault(domain, [])
                head = ro.url[:ro.url.find("://") + 3] + domain + "/" if domain else ""
            group.append(ro.registration(runtime))
        await asyncio.gather(*(
            self.bus.request({"type": "create", "from": self.runtime.url + "/registry", "to": addr.registry(domain),
                              "body": {"value": values[i:i + 1000]}})
            for domain, values in by_domain.items() for i in range(0, len(values), 1000)))

    def _rebuild_reporter(self, record: dict[str, Any], hyperty: str) -> ReporterObject:
        """The ReporterObject of `record` (which becomes its metadata); its listeners and PUBs come after."""
        # the record's own fields (`_NOT_METADATA`) are taken out as they are read, one pop each rather
        # than a get and a pop: what stays is the object's metadata
        pop = record.pop
        rethink = pop("rethinkSubscribers", None) or ()
        subscribers = pop("subscriptions", None)
        store = bool(pop("store", None))
        preauthorised, users = pop("preAuthorised", []), pop("subscriberUsers", [])
        data, children, version = pop("data", {}), pop("childrenObjects", {}), pop("version", 0)
        for key in _UNREAD_BY_REPORTERS:
            pop(key, None)
        ro = ReporterObject(str(record["url"]), hyperty, str(record.get("schema", "")),
                            tuple(record.get("childrens", [])), record, store=store,
                            version=int(version), last_modified=str(record.get("lastModified", "")),
                            preauthorised=set(preauthorised),
                            subscriptions={h: {"status": "live", "rethink": True} if h in rethink else
                                           {"status": "live"} for h in subscribers} if subscribers else {},
                            subscriber_users=list(users),
                            data=data if store else None, children_objects=children if store else {})
        ro.routed = record.get("domain_routing") is not False
        ro.registered = record.get("domain_registration") is not False
        record.update(reporter=hyperty, runtime=self.runtime.url, status="live")  # re-registered live
        return ro

    async def observers(self, msg: Message) -> None:
        """#1o H' → SM : subscribe {resume: true, …}; node subscriptions go out together."""
        hyperty = self.sm._local_hyperty(msg)
        b = msg.get("body", {})
        records = select(self.runtime.stored("observer", encoded_data=True), b, hyperty, False)
        values, chosen, fresh = [], [], []
        for record in records:
            url = str(record["url"])
            oo = self.sm.observers.get(url)
            if oo is not None and hyperty in oo.subscriptions:
                values.append({**value_of({**oo.record(), "data": copy_json(oo.data or {})}), "store": oo.store})
                continue
            # (version, data, childrenObjects) for its value, and the subscriptions it holds, taken out of
            # the record as they are read (see `_rebuild_reporter`)
            pop = record.pop
            version, data, subscribed = pop("version", 0), pop("data", None), pop("subscriptions", [])
            state = ((version, {} if data is None else data, pop("childrenObjects", {})), subscribed)
            if oo is None:
                oo = self._rebuild_observer(record, version, subscribed, data is not None)
                fresh.append(oo)
            chosen.append((state, oo))
        self.sm._attach_observers([oo for oo in fresh if not oo.deleted])
        deleted = {oo.url for oo in fresh if oo.deleted}   # known gone: listed for the resync to find out
        held = {oo.url: oo.node_addresses() for oo in fresh if not oo.deleted}
        reply = await self.runtime.routing.subscribe(list(chain.from_iterable(held.values())))
        gone: set[str] = set()
        if code_of(reply) != 200:
            for oo in fresh:
                if oo.deleted:
                    continue
                outcome = await self._observe_one(oo)
                if outcome == "gone":
                    gone.add(oo.url)
                elif outcome == "deleted":
                    deleted.add(oo.url)
        for oo in fresh:
            if oo.url in held and oo.url not in gone and oo.url not in deleted:
                oo.mns = held[oo.url]
        deliver = self.runtime.deliverer(hyperty)
        # the FWDs of the subscriptions the records hold, filed in one call (an identity resume's are
        # filed one by one below, each before its reporter is asked)
        plain = [oo for (_state, subscribed), oo in chosen
                 if hyperty in subscribed and not oo.deleted and oo.url not in gone]
        forwards = iter(self.bus.add_listeners([(tuple(held.get(oo.url) or oo.node_addresses()), deliver, "FWD",
                                                 hyperty) for oo in plain]))   # in the order of `plain`
        for ((version, data, children), subscribed), oo in chosen:
            if oo.url in gone:
                continue
            url, live = oo.url, not oo.deleted
            # One deleted while this hyperty was away (possibly during this resume) is listed without a
            # subscription: its resync read finds it gone, notifies, and its unsubscribe ends it.
            if live:
                oo.subscriptions[hyperty] = Subscription(
                    hyperty, SubscriptionState.LIVE, [next(forwards)] if hyperty in subscribed else
                    self.bus.add_listeners([(tuple(held.get(url) or oo.node_addresses()), deliver, "FWD", hyperty)]))
                oo.dormant.discard(hyperty)
                if hyperty not in subscribed:                             # identity resume: ask the reporter
                    answer = await self.sm._ask_reporter(url, {"source": hyperty}, msg)
                    if code_of(answer) != 200:
                        self.sm._drop_subscription(oo, hyperty)
                        if not oo.subscriptions:
                            await self.sm._forget_observed(oo)
                        continue
                    self.runtime.persist_observer(oo)
            # `reply`, without its check that `msg` is a request (a resume answers thousands of 100s)
            self.bus.post(response(msg, 100, None, resource=url, schema=oo.schema,
                                   childrenResources=list(oo.childrens)))
            values.append({**oo.metadata, "version": version, "data": data, "childrenObjects": children,
                           "store": oo.store})   # as a reporter's value
            if live and self.sm.monitor.active:
                self.sm.monitor.emit("subscription", self.runtime.url, object=url, hyperty=hyperty, state="live",
                                     side="observer", version=oo.version, resumed=True)
        if not values:
            raise Refusal(404, NO_OBSERVERS)
        self.bus.reply(msg, 200, value=values)

    async def _observe_one(self, oo: ObserverObject) -> str:
        """`subscribed`, `deleted` (listed anyway: see below) or `gone` (not resumed)."""
        reply = await self.runtime.routing.subscribe(oo.node_addresses())
        if code_of(reply) == 200:
            return "subscribed"
        if code_of(reply) == 404 and description_of(reply) == "unknown object":
            # Deleted while we were down. Listed all the same: the Syncher's resync read gets the same
            # answer and handles it as the delete it missed, notifying the application (PROTOCOL §3.8,
            # §5 rule 4); its unsubscribe then removes the record.
            self.sm.monitor.emit("subscription", self.runtime.url, object=oo.url, state="refused", side="node",
                                 code=404, description="unknown object", outcome="resumed to be deleted")
            return "deleted"
        self.sm._release_observed(oo)
        self.sm.monitor.emit("error", self.runtime.url, object=oo.url,
                             error=f"not resumed: node answered {code_of(reply)} {description_of(reply)}")
        return "gone"

    def _rebuild_observer(self, record: dict[str, Any], version: Any, subscribed: Any, stored_data: bool
                          ) -> ObserverObject:
        """The ObserverObject of a record (which becomes its metadata) whose version, subscriptions and
        data the caller took out; known to the SM; its listeners, PUBs and MNS come after."""
        pop = record.pop
        store, stale = bool(pop("store", None)), bool(pop("stale", None))
        for key in _UNREAD_BY_OBSERVERS:
            pop(key, None)
        url = str(record["url"])
        childrens = tuple(record.get("childrens", []))
        dormant, deleted = set(subscribed), bool(record.get("deleted"))
        oo = ObserverObject(url, str(record.get("schema", "")), childrens, reporter=str(record.get("reporter", "")),
                            store=store, tracker=VersionTracker(int(version)), confirmed=True,
                            metadata=record, stale=stale, dormant=dormant, deleted=deleted)
        if store and stored_data:  # the record's data goes to the Syncher's replica, uncopied
            oo.load = lambda: self.runtime.stored_record("observer", url)
        # a tombstone (deleted) is known to the SM for the hyperties still to be told, with no listeners;
        # the others are attached together after
        self.sm.observers[url] = oo
        return oo
