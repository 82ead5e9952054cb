"""The console as the application of its lab's hyperties: which accept the reporter role when it
is offered (PROTOCOL §4), and who answers subscriptions to a reporter that came back.

A hyperty accepts a delegation only through its application's notification handler
(`syncher.on_notification`); without one the offer is refused "no delegation handler". The console
is the application of its lab's hyperties: it gives each one a handler that accepts `delegate`
offers while the hyperty's "accepts delegation" setting is on (the default) and answers every
other notification as the Syncher would without a handler (200). A restart gives a hyperty a new
Syncher, so `apply` installs the handler again on any Syncher that lacks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REFUSAL = "does not accept delegation (its setting in the console is off)"


class DelegationPolicy:
    def __init__(self, default: bool = True) -> None:
        self.default = default
        self._accepts: dict[str, bool] = {}
        self._installed: dict[str, Any] = {}   # hyperty URL → the Syncher that has our handler

    def accepts(self, hyperty_url: str) -> bool:
        return self._accepts.get(hyperty_url, self.default)

    def set(self, hyperty: Any, accepts: bool) -> None:
        """Turn `hyperty`'s "accepts delegation" setting on or off."""
        self._accepts[hyperty.url] = accepts
        self._install(hyperty)

    def apply(self, hyperties: Iterable[Any]) -> None:
        """Give every hyperty whose Syncher is new (added, or restarted) the console's handler."""
        for hyperty in hyperties:
            if self._installed.get(hyperty.url) is not hyperty.syncher:
                self._install(hyperty)

    def _install(self, hyperty: Any) -> None:
        url = hyperty.url

        def handle(event: Any) -> None:
            if event.type != "delegate":
                event.ack()
            elif self.accepts(url):
                event.accept()
            else:
                event.reject(REFUSAL)

        hyperty.syncher.on_notification(handle)
        self._installed[url] = hyperty.syncher


class SubscriptionHandlers:
    """The subscription handler each reporter was given, carried over to the handle that replaces
    it: a reporter resumed after a restart, or taken over by delegation, is a new handle without
    the handler its creator gave the old one (the demo, New object with "accept every subscription",
    the stress run), and would refuse every subscriber that was not invited."""

    def __init__(self) -> None:
        self._by_object: dict[str, Any] = {}

    def carry_over(self, url: str, reporter: Any) -> None:
        handler = getattr(reporter, "_on_subscription", None)
        if handler is not None:
            self._by_object[url] = handler
        elif url in self._by_object:
            reporter.on_subscription(self._by_object[url])

    def forget(self, url: str) -> None:
        self._by_object.pop(url, None)
