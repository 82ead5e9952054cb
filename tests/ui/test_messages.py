"""Message log filters, pause, export and re-import; the sequence chart of one subscribe."""

from __future__ import annotations

from pathlib import Path

import orjson

from console.demo import Demo
from core.lab import Lab
from core.schemas import COMM_SCHEMA
from ui.main_window import MainWindow
from ui.models.log_row import message_of
from ui.models.message_log import MessageLogModel


def shown(window: MainWindow) -> list[tuple[str, ...]]:
    proxy = window.messages_dock.proxy
    return [tuple(proxy.data(proxy.index(r, c)) for c in range(proxy.columnCount())) for r in range(proxy.rowCount())]


async def test_filters_by_type_address_wildcards_and_text(lab: Lab, window: MainWindow, demo: Demo) -> None:
    demo.chat.data["participants"]["bob"]["status"] = "away"
    await lab.settle()
    window.flush()
    dock = window.messages_dock
    rows = window.log.rows
    assert len(rows) > 100
    dock.type_box.setCurrentIndex(dock.type_box.findData("subscribe"))
    subscribes = [r for r in rows if message_of(r).get("type") == "subscribe"]
    assert dock.proxy.rowCount() == len(subscribes) > 0
    assert {row[3] for row in shown(window)} == {"subscribe"}
    dock.type_box.setCurrentIndex(0)
    guid = demo.chat.url.rsplit("/", 1)[-1]
    dock.address.setText(f"comm://a.example/{guid[:4]}*/subscription")
    address = f"{demo.chat.url}/subscription"
    expected = [r for r in rows if address in (message_of(r).get("from"), message_of(r).get("to"))]
    assert dock.proxy.rowCount() == len(expected) > 0
    dock.address.setText("")
    dock.text.setText("AWAY")  # free text, case-insensitive
    expected = [r for r in rows if b'"value":"away"' in orjson.dumps(message_of(r))]
    assert dock.proxy.rowCount() == len(expected) > 0
    dock.text.setText("")
    assert dock.proxy.rowCount() == len(rows)


async def test_pause_holds_rows_back_without_losing_them(lab: Lab, window: MainWindow, demo: Demo) -> None:
    dock = window.messages_dock
    before = len(window.log.rows)
    dock.set_paused(True)
    for _ in range(10):
        demo.edit_chat()
    await lab.settle()
    window.flush()
    assert len(window.log.rows) == before
    held = len(window.log.held)
    assert held >= 10 * 5  # each update: reporter out, node in, 2 node outs, 2 runtime ins at least
    dock.set_paused(False)
    assert len(window.log.rows) == before + held
    assert window.log.held == []
    assert dock.pause_button.text() == "❚❚ Pause"


async def test_export_and_reimport_give_the_same_rows(lab: Lab, window: MainWindow, demo: Demo, tmp_path: Path) -> None:
    dock = window.messages_dock
    everything = shown(window)
    path = tmp_path / "all.jsonl"
    assert dock.export_to(path) == len(everything)
    imported = dock.import_from(path)
    assert isinstance(imported, MessageLogModel)
    assert shown(window) == everything
    assert dock.source_label.text() == f"imported: all.jsonl ({len(everything)} messages)"
    dock.type_box.setCurrentIndex(dock.type_box.findData("response"))
    filtered = shown(window)
    dock.back_to_live()
    assert dock.proxy.sourceModel() is window.log
    assert shown(window) == filtered != []
    subset = tmp_path / "responses.jsonl"
    assert dock.export_to(subset) == len(shown(window))
    dock.type_box.setCurrentIndex(0)
    dock.import_from(subset)
    assert shown(window) == shown_after_filter(window, "response")


def shown_after_filter(window: MainWindow, kind: str) -> list[tuple[str, ...]]:
    return [row for row in shown(window) if row[3] == kind]


async def test_import_rejects_a_file_that_is_not_a_log(window: MainWindow, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "message", "ts": 1, "where": "x", "message": {}}\nnot json\n')
    try:
        window.messages_dock.import_from(bad)
    except ValueError as exc:
        assert str(exc).startswith("line 2: not JSON")
    else:
        raise AssertionError("imported a broken file")


async def test_sequence_chart_of_one_subscribe_has_the_arrows_of_protocol_3_2(lab: Lab, window: MainWindow,
                                                                            demo: Demo) -> None:
    carol = demo.observers[2]
    erin = await carol.runtime.hyperty("erin")
    await erin.syncher.subscribe(demo.chat.url, COMM_SCHEMA)
    await lab.settle()
    window.flush()
    dock = window.messages_dock
    rows = window.log.rows
    seed = next(i for i, r in enumerate(rows) if message_of(r).get("type") == "subscribe"
                and message_of(r).get("from") == erin.url)
    dock.draw_flow(seed)
    chart = dock.chart.chart
    names = dict(chart.lifelines)
    rt3 = carol.runtime.url.rsplit("/", 1)[-1]
    rt1 = demo.reporter.runtime.url.rsplit("/", 1)[-1]
    arrows = [(a.label, names[a.source], names[a.target]) for a in chart.arrows]
    # rt3 already holds the node subscription of the chat (carol observes it): no MN subscribe (#2, #3).
    assert arrows == [
        ("subscribe", "erin", f"{rt3} SM"),                     # 1
        ("response 100", f"{rt3} SM", "erin"),                  # 4
        ("subscribe", f"{rt3} SM", f"{rt1} SM"),                # 5
        ("response 100", f"{rt1} SM", f"{rt3} SM"),             # 6
        ("forward", f"{rt1} SM", "alice"),                      # 7
        ("response 200", "alice", f"{rt1} SM"),                 # 8
        ("response 200", f"{rt1} SM", f"{rt3} SM"),             # 9
        ("response 200", f"{rt3} SM", "erin"),                  # 10
    ]
    # clicking an arrow selects its message in the log
    target = chart.arrows[4]
    dock.chart.messageClicked.emit(target.row)
    dock.select_source_row(target.row)
    current = dock.proxy.mapToSource(dock.view.currentIndex()).row()
    assert current == target.row
    assert '"type": "forward"' in dock.detail.toPlainText()


async def test_sequence_chart_of_a_first_subscribe_includes_the_node_subscription(lab: Lab, window: MainWindow,
                                                                                  demo: Demo) -> None:
    runtime = await lab.runtime("b.example")
    frank = await runtime.hyperty("frank")
    await frank.syncher.subscribe(demo.chat.url, COMM_SCHEMA)
    await lab.settle()
    window.flush()
    rows = window.log.rows
    seed = next(i for i, r in enumerate(rows) if message_of(r).get("type") == "subscribe"
                and message_of(r).get("from") == frank.url)
    window.messages_dock.draw_flow(seed)
    chart = window.messages_dock.chart.chart
    names = dict(chart.lifelines)
    rt = runtime.url.rsplit("/", 1)[-1]
    labels = [(a.label, names[a.source], names[a.target]) for a in chart.arrows]
    assert labels[:3] == [("subscribe", "frank", f"{rt} SM"),
                          ("subscribe", f"{rt} SM", "MN a.example"),
                          ("response 200", "MN a.example", f"{rt} SM")]
    assert [label for label, _, _ in labels[3:]] == ["response 100", "subscribe", "response 100", "forward",
                                                     "response 200", "response 200", "response 200"]
