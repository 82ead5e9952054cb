"""PySide6 6.12.0 on CPython < 3.12 aborts after a few hundred `bool` signal emits (pinned out in
pyproject): this emits 10,000 and must survive."""

from PySide6.QtCore import QObject, Signal


class Flag(QObject):
    changed = Signal(bool)


def test_ten_thousand_bool_emits(qapp: object) -> None:
    flag = Flag()
    seen: list[bool] = []
    flag.changed.connect(seen.append)
    for i in range(10_000):
        flag.changed.emit(i % 2 == 0)
    assert len(seen) == 10_000
    assert seen[:3] == [True, False, True]
