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
from core.monitor import Monitor
from core.net.websocket import NodeServer, WebSocketConnector
from core.node.node import MessageNode
from core.protocol import address as addr
from core.runtime.catalogue import Catalogue
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from ui.dialogs.connect import ConnectDialog
from ui.main_window import MainWindow

DOMAIN = "a.example"
TOKEN = "screenshot-token"


async def shoot(path: Path) -> None:
    node = MessageNode(DOMAIN, monitor_token=TOKEN)
    server = NodeServer(node, port=0)
    await server.start()
    catalogue = Catalogue()
    connectors = [WebSocketConnector({DOMAIN: server.url}) for _ in range(2)]
    runtimes = [Runtime(addr.runtime_url(DOMAIN, ident), connector=connector, monitor=Monitor(), catalogue=catalogue)
                for ident, connector in zip(("rt-alice", "rt-bob"), connectors, strict=True)]
    lab = Lab()
    window = MainWindow(lab, "SyncScope — watching a live node")
    window.show()
    try:
        dialog = window.nodes_dock.open_connect_dialog()
        assert isinstance(dialog, ConnectDialog)
        dialog.url.setText(server.url)
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
        for runtime in runtimes:
            await runtime.close()
        for connector in connectors:
            await connector.close()
        await server.close()
        node.close()
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
