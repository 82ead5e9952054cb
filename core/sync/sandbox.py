"""The hyperty sandbox bus (MiniBus, PROTOCOL §1.4): dispatches delivered messages by exact `to`
to the Syncher's `SB` listeners; everything a hyperty sends goes to the core bus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.bus import ListenerTable, MessageBus
from core.monitor import Monitor
from core.protocol.message import Message, SyncError, code_of, description_of, envelope_error

Handler = Callable[[Message], None]


class SandboxListener:
    """`SB` of one handler, filed under each of its `addresses` (as `core.bus.Listener`)."""

    __slots__ = ("active", "addresses", "handler", "sandbox")
    kind = "SB"

    def __init__(self, sandbox: Sandbox, addresses: tuple[str, ...], handler: Handler) -> None:
        self.sandbox = sandbox   # one statement each, as `Listener` (no tuple built and unpacked)
        self.addresses = addresses
        self.handler = handler
        self.active = True

    @property
    def address(self) -> str:
        """Its (first) address."""
        return self.addresses[0]

    @property
    def owner(self) -> str:
        return self.sandbox.url

    def remove(self) -> None:
        if self.active:
            self.active = False
            self.sandbox._remove(self)


class Sandbox:
    def __init__(self, hyperty_url: str, bus: MessageBus, monitor: Monitor) -> None:
        self.url = hyperty_url
        self.bus = bus
        self.monitor = monitor
        self._table = ListenerTable(monitor, bus.url)
        self._listeners: dict[str, tuple[SandboxListener, ...]] = self._table.by_address

    def add(self, address: str | tuple[str, ...], handler: Handler) -> SandboxListener:
        """`SB(address)` (one listener under each of several addresses)."""
        listener = SandboxListener(self, (address,) if isinstance(address, str) else address, handler)
        self._table.file(listener, listener.addresses)
        return listener

    def add_object(self, address: str, handler: Handler, channels: list[str],
                   channel_handler: Handler) -> list[SandboxListener]:
        """`add` of `address`, then one listener of `channel_handler` filed under each of `channels` (an
        object's children channels), in one call (a resume attaches thousands)."""
        made = [SandboxListener(self, (address,), handler)]
        if channels:
            made.append(SandboxListener(self, tuple(channels), channel_handler))
        self._table.file_all(made)
        return made

    def _remove(self, listener: SandboxListener) -> None:
        self._table.remove(listener)

    def listeners(self) -> list[tuple[str, str, str]]:
        return [(a, "SB", self.url) for a, xs in self._listeners.items() for _ in xs]

    def deliver(self, msg: Message) -> None:
        entries = self._listeners.get(msg["to"])
        if not entries:
            return
        for listener in entries:
            if listener.active:
                try:
                    listener.handler(msg)
                except Exception as exc:  # an application callback must not break the runtime
                    self.monitor.emit("error", self.bus.url, error=f"{type(exc).__name__}: {exc}",
                                      hyperty=self.url, address=msg["to"])

    def post(self, msg: Message, callback: Handler | None = None, timeout: float | None = None) -> Message:
        if "id" not in msg:
            msg["id"] = self.bus.next_id()
        problem = envelope_error(msg)
        if problem is not None:
            raise ValueError(f"malformed message: {problem}")
        return self.bus.post(msg, callback, timeout)

    async def request(self, msg: Message, timeout: float | None = None,
                      on_provisional: Handler | None = None) -> Message:
        if "id" not in msg:
            msg["id"] = self.bus.next_id()
        problem = envelope_error(msg)
        if problem is not None:
            raise ValueError(f"malformed message: {problem}")
        return await self.bus.request(msg, timeout, on_provisional)

    async def call(self, msg: Message, timeout: float | None = None,
                   on_provisional: Handler | None = None) -> dict[str, Any]:
        """`request`, raising SyncError on a non-2xx answer; returns the answer's body."""
        answer = await self.request(msg, timeout, on_provisional)
        code = code_of(answer)
        if not 200 <= code < 300:
            raise SyncError(code, description_of(answer), answer)
        body: dict[str, Any] = answer.get("body", {})
        return body
