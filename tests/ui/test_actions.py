"""Each action through its dialog changes the engine as the protocol says, and the views show it."""

from __future__ import annotations

import pytest

from console.demo import Demo
from core.lab import Lab
from ui.dialogs.base import ActionDialog
from ui.main_window import MainWindow
from ui.models.subscriptions import SubscriptionsModel


async def run(dialog: ActionDialog, lab: Lab, window: MainWindow) -> str:
    task = dialog.submit()
    assert task is not None, dialog.answer_text
    await task
    await lab.settle()
    window.flush()
    return dialog.answer_text


async def test_create_with_invalid_json_points_at_the_error(lab: Lab, window: MainWindow, demo: Demo) -> None:
    dialog = window.open_action("New object…")
    dialog.data.setPlainText('{\n  "topic": "x",\n  "oops" 1\n}')
    assert dialog.submit() is None
    assert dialog.answer_text == "initial data: line 3, column 10: Expecting ':' delimiter"
    assert dialog.data.textCursor().blockNumber() == 2
    dialog.data.setPlainText("[1, 2]")
    assert dialog.submit() is None
    assert dialog.answer_text == "initial data: the data must be a JSON object ({…})"
    assert len(window.objects.keys) == 2


async def test_create_invite_subscribe_edit_child_unsubscribe_revoke_delete(lab: Lab, window: MainWindow,
                                                                          demo: Demo) -> None:
    bob, carol = demo.observers[1], demo.observers[2]
    create = window.open_action("New object…")
    create.reporter.select(demo.reporter.url)
    create.schema.setCurrentText("Communication")
    create.name.setText("console chat")
    create.data.setPlainText('{"topic": "made in a dialog", "participants": {}}')
    create.invitees.check([bob.url])
    answer = await run(create, lab, window)
    url = create.created_url
    assert answer == f"200 ok: created {url} at v0; invitations sent to 1 hyperty"
    obj = demo.reporter.syncher.reporters[url]
    assert obj.data == {"topic": "made in a dialog", "participants": {}}
    assert window.objects.row_of(url) == 2
    window.select_object(url)

    invite = window.open_action("Invite…")
    invite.invitee.select(carol.url)
    assert await run(invite, lab, window) == "carol: 200 ok"

    subscribe = window.open_action("Subscribe…")
    subscribe.hyperty.select(carol.url)
    assert await run(subscribe, lab, window) == f"carol observes {window.index.short(url)} at v0".join(
        ["200 ok: ", ""])
    observer = carol.syncher.observers[url]
    key = (url, carol.url)
    assert window.subscriptions.values[window.subscriptions.row_of(key)][SubscriptionsModel.STATE] == "live"

    edit = window.open_action("Edit…")
    edit.path.setText("participants.carol")
    edit.value.setPlainText('{"status": "online"}')
    assert await run(edit, lab, window) == "update v1 sent to the observers"
    assert observer.data == {"topic": "made in a dialog", "participants": {"carol": {"status": "online"}}}
    assert observer.version == obj.version == 1
    window.objects_dock.choose(window.objects_dock.replica_box, carol.url)
    window.flush()
    assert window.objects_dock.tree_model.text_at(["participants", "carol", "status"]) == '"online"'

    patch = window.open_action("Edit…")
    patch.operation.setCurrentText("JSON Patch")
    patch.value.setPlainText('{"op": "add"}')
    assert patch.submit() is None
    assert patch.answer_text.startswith("a JSON Patch is a list of operations")

    child = window.open_action("Add child…")
    position = next(i for i, r in enumerate(child.replica.replicas) if r.url == url and r.hyperty is carol)
    child.replica.setCurrentIndex(position)
    child.collection.setCurrentText("messages")
    child.data.setPlainText('{"text": "from the dialog"}')
    answer = await run(child, lab, window)
    assert answer.startswith("200 ok: child ") and answer.endswith(" added to messages")
    assert [c.data for c in obj.children.values()] == [{"text": "from the dialog"}]

    unsubscribe = window.open_action("Unsubscribe…")
    position = next(i for i, r in enumerate(unsubscribe.replica.replicas) if r.url == url and r.hyperty is carol)
    unsubscribe.replica.setCurrentIndex(position)
    assert await run(unsubscribe, lab, window) == f"200 ok: carol no longer observes {window.index.short(url)}"
    assert url not in carol.syncher.observers
    assert window.subscriptions.values[window.subscriptions.row_of(key)][SubscriptionsModel.STATE] == "unsubscribed"

    bob_observer = await bob.syncher.subscribe(url)
    await lab.settle()
    revoke = window.open_action("Revoke…")
    revoke.subscriber.setCurrentIndex(revoke.subscriber.findData(bob.url))
    assert await run(revoke, lab, window) == "200 ok: bob's subscription revoked"
    assert bob.url not in obj.subscriptions
    assert bob_observer.status == "revoked"
    assert window.subscriptions.values[window.subscriptions.row_of((url, bob.url))][SubscriptionsModel.STATE] \
        == "revoked"

    delete = window.open_action("Delete object…")
    assert await run(delete, lab, window) == f"200 ok: {window.index.short(url)} deleted; its observers were told"
    assert url not in demo.reporter.syncher.reporters
    assert window.objects.row_of(url) == -1


async def test_protocol_errors_are_shown_in_words(lab: Lab, window: MainWindow, demo: Demo) -> None:
    carol = demo.observers[2]
    create = window.open_action("New object…")
    create.reporter.select(demo.reporter.url)
    create.schema.setCurrentText("Context")
    create.accept_all.setChecked(False)
    await run(create, lab, window)
    subscribe = window.open_action("Subscribe…")
    subscribe.hyperty.select(carol.url)
    subscribe.object.setEditText(create.created_url)
    await run(subscribe, lab, window)
    assert subscribe.ok is False
    assert subscribe.answer_text == "403 forbidden: no subscription handler"

    bad = window.open_action("Subscribe…")
    bad.object.setEditText("not a url")
    assert bad.submit() is None
    assert bad.answer_text == "the object URL must look like <scheme>://<domain>/<id>"

    unknown = window.open_action("Subscribe…")
    unknown.object.setEditText("comm://a.example/doesnotexist")
    await run(unknown, lab, window)
    assert unknown.answer_text == "404 not found: unknown object"


async def test_runtime_and_hyperty_actions(lab: Lab, window: MainWindow, demo: Demo) -> None:
    add_runtime = window.open_action("Add runtime…")
    add_runtime.domain.setCurrentText("Not A Domain")
    assert add_runtime.submit() is None
    add_runtime.domain.setCurrentText("c.example")
    answer = await run(add_runtime, lab, window)
    runtime = lab.runtimes[-1]
    assert answer == f"200 ok: {runtime.url} opened its session at a new Message Node"
    assert window.topology.find("runtime", runtime.url).isValid()

    add_hyperty = window.open_action("Add hyperty…")
    add_hyperty.runtime.setCurrentIndex(add_hyperty.runtime.findData(runtime.url))
    add_hyperty.name.setText("erin")
    answer = await run(add_hyperty, lab, window)
    erin = runtime.hyperties["erin"]
    assert answer == f"200 ok: allocated {erin.url}"
    assert window.topology.find("hyperty", erin.url).isValid()
    again = window.open_action("Add hyperty…")
    again.runtime.setCurrentIndex(again.runtime.findData(runtime.url))
    again.name.setText("erin")
    assert again.submit() is None
    assert again.answer_text == f"{runtime.url} already has a hyperty called erin"


async def test_restart_and_delegate_when_the_engine_has_them(lab: Lab, window: MainWindow, demo: Demo) -> None:
    carol = demo.observers[2]
    delegate = window.open_action("Delegate…")
    delegate.object.setCurrentIndex(delegate.object.findData(demo.context.url))
    delegate.select(carol.url)
    await run(delegate, lab, window)  # carol accepts: the console's lab accepts delegation by default
    assert delegate.ok, delegate.answer_text
    assert demo.context.url in carol.syncher.reporters
    assert window.index.reporter(demo.context.url).hyperty is carol
    restart = window.open_action("Restart runtime…")
    restart.runtime.setCurrentIndex(restart.runtime.findData(carol.runtime.url))
    await run(restart, lab, window)
    assert restart.ok, restart.answer_text


async def test_faults_dialog_adds_and_removes_fault_sets(lab: Lab, window: MainWindow, demo: Demo) -> None:
    faults = window.open_action("Faults…")
    assert faults.submit() is None
    assert faults.answer_text == "choose at least one fault"
    link = next(x for x in lab.links if x.runtime_url == demo.observers[2].runtime.url)
    faults.scope.setCurrentIndex(faults.scope.findText(link.name))
    faults.drop.setValue(100.0)
    answer = await run(faults, lab, window)
    assert answer == f"faults on: {link.name}: drop 100%"
    assert len(link.fault_sets) == 1
    assert window.topology.data(window.topology.find("link", id(link)).siblingAtColumn(1)) == "◐ faulty"
    faults.active.setCurrentRow(0)
    faults.remove_selected()
    assert link.fault_sets == []


@pytest.mark.parametrize("count", [40])
async def test_stress_creates_objects_with_progress_and_can_be_cancelled(lab: Lab, window: MainWindow, demo: Demo,
                                                                         count: int) -> None:
    stress = window.open_action("Stress run…")
    stress.reporter.select(demo.reporter.url)
    stress.observer.select(demo.observers[2].url)
    stress.objects.setValue(count)
    stress.rate.setValue(200)
    task = stress.submit()
    assert task is not None
    await lab.until(lambda: (len(stress.created) >= count and stress.updates >= 20) or task.done())
    assert stress.progress.maximum() == 0  # creation done, now the update phase
    stress.reject()
    await lab.settle()
    assert task.cancelled()
    assert stress.answer_text == "cancelled"
    window.flush()
    assert len(window.objects.keys) == 2 + count
