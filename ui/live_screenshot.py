"""The screenshot of docs/console-live-nodes.png: the console watching a live Message Node.

    QT_QPA_PLATFORM=offscreen python -m ui.live_screenshot docs/console-live-nodes.png

A real node served over WebSocket on 127.0.0.1 (port 0), two runtimes connected to it (a reporter
and an observer of a chat object that changes a few times), and the console attached through the
Connect dialog: the Live nodes dock shows the node's sessions, Data objects and Subscriptions its
object and replicas (seen at the node), the message log its traffic.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from core.lab import Lab
from core.net.served_node import served_node
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from ui.dialogs.connect import ConnectDialog
from ui.main_window import MainWindow

DOMAIN = "a.example"
TOKEN = "screenshot-token"


async def shoot(path: Path) -> None:
    async with served_node(DOMAIN, TOKEN, ("rt-alice", "rt-bob")) as (server, runtimes):
        await _shoot(path, server.url, runtimes)


async def _shoot(path: Path, url: str, runtimes: list[Runtime]) -> None:
    lab = Lab()
    window = MainWindow(lab, "SyncScope — watching a live node")
    window.show()
    try:
        dialog = window.nodes_dock.open_connect_dialog()
        assert isinstance(dialog, ConnectDialog)
        dialog.url.setText(url)
        dialog.token.setText(TOKEN)
        dialog.name.setText("a-node")
        task = dialog.submit()
        assert task is not None, dialog.answer_text
        await task
        dialog.close()
        for runtime in runtimes:
            await runtime.start()
        alice, bob = await runtimes[0].hyperty("alice"), await runtimes[1].hyperty("bob")
        chat = await alice.syncher.create(COMM_SCHEMA, data={"topic": "release", "participants": {}},
                                          observers=[bob.url], name="team chat")
        chat.on_subscription(lambda event: event.accept())
        observed = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
        for n, status in enumerate(("online", "away", "busy", "online")):
            chat.data["participants"]["bob"] = {"status": status, "seen": n}
            await asyncio.sleep(0.05)
        await observed.add_child("messages", {"text": "shipping today"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while loop.time() < deadline:
            window.flush()
            seen = window.index.observer_replicas(chat.url)
            if seen and seen[0].obj.version == chat.version and seen[0].obj.children:
                break
            await asyncio.sleep(0.05)
        window.nodes_dock.raise_()
        window.select_object(chat.url)
        window.objects_dock.tabs.setCurrentIndex(1)
        window.flush()
        await asyncio.sleep(0.2)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        print(f"saved {path}")
    finally:
        await window.shutdown()
        window.close()
        await lab.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "docs/console-live-nodes.png")
    from ui.app import application, shared_loop

    app = application()
    loop = shared_loop(app)
    try:
        loop.run_until_complete(shoot(path))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
