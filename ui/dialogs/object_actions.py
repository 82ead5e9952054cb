"""Dialogs for the operations on existing objects: invite, subscribe, edit, add child, unsubscribe,
revoke, delete, delegate, resync (PROTOCOL §3.1.1–§3.7, §4, §5)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from ui.dialogs.base import ActionDialog, JsonEdit, in_words
from ui.dialogs.pickers import HypertyPicker, ObjectPicker, ReplicaPicker, hyperty_label
from ui.index import EngineIndex


class InviteDialog(ActionDialog):
    title = "Invite a hyperty"
    run_label = "Invite"

    def __init__(self, index: EngineIndex, obj: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.object = ObjectPicker(index, obj, reporters_only=True)
        self.invitee = HypertyPicker(index)
        self.form.addRow("Object", self.object)
        self.form.addRow("Invitee", self.invitee)

    def validate(self) -> str | None:
        if self.index.local_reporter(self.object.url()) is None:
            return "choose an object reported in this lab"
        return None if self.invitee.url() else "choose the hyperty to invite"

    async def perform(self) -> str:
        rep = self.index.local_reporter(self.object.url())
        assert rep is not None
        codes = await rep.obj.invite(self.invitee.url())
        return "; ".join(f"{self.index.short(url)}: {in_words(code)}" for url, code in codes.items())


class SubscribeDialog(ActionDialog):
    title = "Subscribe to an object"
    run_label = "Subscribe"

    def __init__(self, index: EngineIndex, obj: str = "", hyperty: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.hyperty = HypertyPicker(index, hyperty)
        self.object = ObjectPicker(index, obj, editable=True)
        self.form.addRow("Observer", self.hyperty)
        self.form.addRow("Object URL", self.object)
        self._preferred = hyperty
        self.object.currentIndexChanged.connect(self._offer_observers)
        self.object.editTextChanged.connect(self._offer_observers)
        self._offer_observers()
        if not self.hyperty.url():  # everyone has this one: open on an object someone can still subscribe to
            for position in range(self.object.count()):
                self.object.setCurrentIndex(position)
                if self.hyperty.url():
                    break
            else:
                self.object.setCurrentIndex(max(0, self.object.findData(obj)))

    def taken(self) -> set[str]:
        """Hyperties that already report or observe the chosen object (subscribing them fails)."""
        url = self.object.url()
        rep = self.index.reporter(url)
        taken = {r.hyperty.url for r in self.index.observer_replicas(url)}
        return taken | ({rep.hyperty.url} if rep is not None else set())

    def _offer_observers(self, *_: object) -> None:
        chosen = self.hyperty.url() or self._preferred
        self.hyperty.offer(chosen if chosen else self._preferred, self.taken())

    def validate(self) -> str | None:
        url = self.object.url()
        if "://" not in url or url.count("/") != 3:
            return "the object URL must look like <scheme>://<domain>/<id>"
        if not self.hyperty.url():
            return "every hyperty of the lab already reports or observes this object"
        return None

    async def perform(self) -> str:
        hyperty = self.index.hyperty(self.hyperty.url())
        assert hyperty is not None
        observer = await hyperty.syncher.subscribe(self.object.url())
        return f"200 ok: {hyperty.name} observes {self.index.short(observer.url)} at v{observer.version}"


class EditDialog(ActionDialog):
    """Set, remove or insert at a path, or apply a JSON Patch: one update each (PROTOCOL §3.3)."""

    title = "Edit (update) an object"
    run_label = "Send update"
    OPERATIONS = ("set", "remove", "insert into list", "JSON Patch")

    def __init__(self, index: EngineIndex, obj: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.object = ObjectPicker(index, obj, reporters_only=True)
        self.operation = QComboBox()
        self.operation.addItems(self.OPERATIONS)
        self.path = QLineEdit()
        self.path.setPlaceholderText("dotted path, e.g. participants.bob.status")
        self.value = JsonEdit('"online"', want_object=False)
        self.form.addRow("Object", self.object)
        self.form.addRow("Operation", self.operation)
        self.form.addRow("Path", self.path)
        self.form.addRow("Value (JSON)", self.value)

    def validate(self) -> str | None:
        if self.index.local_reporter(self.object.url()) is None:
            return "only the reporter edits an object: choose an object reported in this lab"
        op = self.operation.currentText()
        if op != "JSON Patch" and not self.path.text().strip():
            return "give the path to edit"
        if op == "remove":
            return None
        value, problem = self.value.value()
        if problem:
            return f"value: {problem}"
        if op == "JSON Patch" and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            return "a JSON Patch is a list of operations: [{\"op\": \"replace\", \"path\": \"/a\", \"value\": 1}]"
        return None

    async def perform(self) -> str:
        rep = self.index.local_reporter(self.object.url())
        assert rep is not None
        obj = rep.obj
        before = obj.version
        op = self.operation.currentText()
        path = self.path.text().strip()
        value, _ = self.value.value() if op != "remove" else (None, None)
        if op == "set":
            obj.set(path, value)
        elif op == "remove":
            obj.remove(path)
        elif op == "insert into list":
            obj.insert(path, len(_at(obj.data, path)), value)
        else:
            obj.apply_patch(value)
        if obj.version == before:
            return "no change: nothing was sent"
        return f"update v{obj.version} sent to the observers"


def _at(data: object, path: str) -> list[object]:
    node = data
    for key in path.split("."):
        node = node[int(key)] if isinstance(node, list) else node[key]  # type: ignore[index]
    if not isinstance(node, list):
        raise TypeError(f"{path} is not a list")
    return node


class AddChildDialog(ActionDialog):
    title = "Add a child object"
    run_label = "Add child"

    def __init__(self, index: EngineIndex, obj: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.replica = ReplicaPicker(index, obj)
        self.collection = QComboBox()
        self.data = JsonEdit('{\n  "text": "hello"\n}')
        self.replica.currentIndexChanged.connect(self._collections)
        self._collections()
        self.form.addRow("As (replica)", self.replica)
        self.form.addRow("Collection", self.collection)
        self.form.addRow("Data", self.data)

    def _collections(self) -> None:
        self.collection.clear()
        rep = self.replica.replica()
        if rep is not None:
            self.collection.addItems(list(rep.obj.childrens))

    def validate(self) -> str | None:
        if self.replica.replica() is None:
            return "choose the replica that adds the child"
        if not self.collection.currentText():
            return "this object's schema declares no children collections"
        _, problem = self.data.value()
        return f"data: {problem}" if problem else None

    async def perform(self) -> str:
        rep = self.replica.replica()
        assert rep is not None
        data, _ = self.data.value()
        child = await rep.obj.add_child(self.collection.currentText(), data)
        return f"200 ok: child {self.index.short(child.child_id)} added to {self.collection.currentText()}"


class UnsubscribeDialog(ActionDialog):
    title = "Unsubscribe"
    run_label = "Unsubscribe"

    def __init__(self, index: EngineIndex, obj: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.replica = ReplicaPicker(index, obj, reporters=False)
        self.form.addRow("Observer replica", self.replica)

    def validate(self) -> str | None:
        return None if self.replica.replica() is not None else "no observer replica to unsubscribe"

    async def perform(self) -> str:
        rep = self.replica.replica()
        assert rep is not None
        await rep.obj.unsubscribe()
        return f"200 ok: {rep.hyperty.name} no longer observes {self.index.short(rep.url)}"


class ResyncDialog(UnsubscribeDialog):
    title = "Resync a replica"
    run_label = "Resync"

    async def perform(self) -> str:
        rep = self.replica.replica()
        assert rep is not None
        await rep.obj.resync()
        return f"200 ok: {rep.hyperty.name}'s replica read again at v{rep.obj.version} ({rep.obj.status})"


class RevokeDialog(ActionDialog):
    title = "Revoke a subscription"
    run_label = "Revoke"

    def __init__(self, index: EngineIndex, obj: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.object = ObjectPicker(index, obj, reporters_only=True)
        self.subscriber = QComboBox()
        self.object.currentIndexChanged.connect(self._subscribers)
        self._subscribers()
        self.form.addRow("Object", self.object)
        self.form.addRow("Observer", self.subscriber)

    def _subscribers(self) -> None:
        self.subscriber.clear()
        rep = self.index.local_reporter(self.object.url())
        for url in rep.obj.subscriptions if rep is not None else []:
            self.subscriber.addItem(self.index.short(url), url)

    def validate(self) -> str | None:
        if self.index.local_reporter(self.object.url()) is None:
            return "choose an object reported in this lab"
        return None if self.subscriber.currentData() else "this object has no accepted observer to revoke"

    async def perform(self) -> str:
        rep = self.index.local_reporter(self.object.url())
        assert rep is not None
        url = str(self.subscriber.currentData())
        await rep.obj.revoke(url)
        return f"200 ok: {self.index.short(url)}'s subscription revoked"


class DeleteDialog(ActionDialog):
    title = "Delete an object"
    run_label = "Delete"

    def __init__(self, index: EngineIndex, obj: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.object = ObjectPicker(index, obj, reporters_only=True)
        self.form.addRow("Object", self.object)

    def validate(self) -> str | None:
        if self.index.local_reporter(self.object.url()) is None:
            return "choose an object reported in this lab"
        return None

    async def perform(self) -> str:
        rep = self.index.local_reporter(self.object.url())
        assert rep is not None
        await rep.obj.delete()
        return f"200 ok: {self.index.short(rep.url)} deleted; its observers were told"


class DelegateDialog(ActionDialog):
    """Hand the reporter role to one of the object's current observers (PROTOCOL §4): only they
    hold a replica to take over from; the candidate accepts through its notification handler
    (`ui.delegation`: the hyperty's "accepts delegation" setting)."""

    title = "Delegate the reporter role"
    run_label = "Delegate"

    def __init__(self, index: EngineIndex, obj: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.object = ObjectPicker(index, obj, reporters_only=True)
        self.candidate = QComboBox()
        self.object.currentIndexChanged.connect(self._candidates)
        self._candidates()
        self.form.addRow("Object", self.object)
        self.form.addRow("New reporter", self.candidate)

    def _candidates(self) -> None:
        """The object's observers (never its reporter), those that accept delegation first."""
        self.candidate.clear()
        delegation = self.index.delegation
        observers = sorted(self.index.local_observers(self.object.url()),
                           key=lambda r: not delegation.accepts(r.hyperty.url))
        for rep in observers:
            note = "" if delegation.accepts(rep.hyperty.url) else "  (does not accept delegation)"
            self.candidate.addItem(f"{hyperty_label(rep.hyperty)}{note}", rep.hyperty.url)

    def candidates(self) -> list[str]:
        return [str(self.candidate.itemData(i)) for i in range(self.candidate.count())]

    def select(self, hyperty_url: str) -> None:
        position = self.candidate.findData(hyperty_url)
        if position >= 0:
            self.candidate.setCurrentIndex(position)

    def validate(self) -> str | None:
        rep = self.index.local_reporter(self.object.url())
        if rep is None:
            return "choose an object reported in this lab"
        url = str(self.candidate.currentData() or "")
        if not url:
            return "only an observer can become the reporter, and this object has none: subscribe one first"
        if not self.index.delegation.accepts(url):
            return (f"{self.index.short(url)} does not accept delegation: turn it on in Topology "
                    "(right-click the hyperty → Accepts delegation)")
        return None

    async def perform(self) -> str:
        rep = self.index.local_reporter(self.object.url())
        assert rep is not None
        url = str(self.candidate.currentData())
        self.index.delegation.apply(self.index.all_hyperties())  # a Syncher renewed since the last flush
        await rep.obj.delegate(url)
        return f"200 ok: {self.index.short(url)} now reports {self.index.short(rep.url)}"
