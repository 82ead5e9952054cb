"""Side by side marks a diverged replica until it resyncs; the history lists versions with their
JSON Patch operations and diffs two of them."""

from __future__ import annotations

import re

from console.demo import Demo
from core.lab import Lab
from ui.main_window import MainWindow


def set_ops(text: str) -> str:
    return re.sub(r"\b(add|replace)\b", "set", text)


async def test_diverged_replica_is_marked_until_heal_and_resync(lab: Lab, window: MainWindow, demo: Demo) -> None:
    carol = demo.observers[2]
    replica = next(r for r in demo.replicas if r.url == demo.chat.url and r.syncher.url == carol.url)
    window.select_object(demo.chat.url)
    dock = window.objects_dock
    dock.choose(dock.left_box, demo.reporter.url)
    dock.choose(dock.right_box, carol.url)
    window.flush()
    model = dock.compare_model
    assert model.differences == 0
    assert dock.compare_label.text() == f"v{demo.chat.version} vs v{replica.version} · identical"

    lab.partition(carol.runtime)
    demo.chat.data["participants"]["carol"]["status"] = "busy-while-cut-off"
    demo.chat.data["topic"] = "changed while carol was cut off"
    await lab.settle()
    window.flush()
    assert replica.version == demo.chat.version - 2
    assert sorted(model.differing_paths()) == [["participants", "carol", "status"], ["topic"]]
    assert model.differences == 2
    assert model.data(model.find(["topic"])) == "≠ topic"
    assert dock.compare_label.text() == f"v{demo.chat.version} vs v{replica.version} · 2 differences"

    lab.heal(carol.runtime)
    demo.chat.data["participants"]["carol"]["status"] = "back"  # the next update shows carol the gap
    await lab.until(lambda: replica.version == demo.chat.version and replica.status == "live")
    window.flush()
    assert replica.data == demo.chat.data
    assert model.differences == 0
    assert model.differing_paths() == []
    assert model.data(model.find(["topic"])) == "topic"
    assert model.text_at(["topic"], 1) == '"changed while carol was cut off"'


async def test_history_lists_versions_with_json_patch_and_diffs_two(lab: Lab, window: MainWindow, demo: Demo) -> None:
    chat = demo.chat
    start = chat.version
    chat.data["topic"] = "one"
    chat.data["participants"]["bob"]["status"] = "away"
    with chat.batch():
        chat.data["topic"] = "three"
        del chat.data["participants"]["dave"]
    await lab.settle()
    window.select_object(chat.url)
    window.flush()
    dock = window.objects_dock
    history = dock.history_model
    assert [history.version_at(r) for r in range(history.rowCount())] == list(range(1, start + 4))
    last = history.rowCount() - 1
    # Setting an existing member is `add` or `replace` in RFC 6902 alike; the engine picks.
    assert set_ops(history.data(history.index(last - 2, 2))) == 'set /topic = "one"'
    assert set_ops(history.data(history.index(last - 1, 2))) == 'set /participants/bob/status = "away"'
    assert set_ops(history.data(history.index(last, 2))) == 'set /topic = "three"; remove /participants/dave'
    log = window.history.log(chat.url)
    assert log is not None
    assert log.document_at(0) == {"topic": "demo", "participants": {
        name: {"status": "online", "url": h.url} for name, h in ((h.name, h) for h in demo.observers)}}
    assert log.document_at(start + 3) == chat.data
    assert [{**op, "op": set_ops(op["op"])} for op in log.patch_between(start, start + 3)] == [
        {"op": "set", "path": "/topic", "value": "one"},
        {"op": "set", "path": "/participants/bob/status", "value": "away"},
        {"op": "set", "path": "/topic", "value": "three"},
        {"op": "remove", "path": "/participants/dave"},
    ]
    dock.show_version_diff(start, start + 3)
    diff = dock.version_diff_model
    assert sorted(diff.differing_paths()) == [["participants", "bob", "status"], ["participants", "dave"], ["topic"]]
    assert '"path": "/participants/dave"' in dock.patch_text.toPlainText()


async def test_history_keeps_the_last_1000_versions(lab: Lab, window: MainWindow, demo: Demo) -> None:
    context = demo.context
    for i in range(1_200):
        context.data["seq"] = i
        if i % 300 == 0:
            await lab.settle()
            window.flush()
    await lab.settle()
    window.flush()
    log = window.history.log(context.url)
    assert log is not None
    assert log.versions() == list(range(context.version - 999, context.version + 1))
    assert log.document_at(context.version - 500)["seq"] == 1_200 - 501
    assert log.document_at(context.version) == context.data
    assert log.document_at(log.base_version)["seq"] == 1_200 - 1_001
