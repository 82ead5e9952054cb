"""The whole matrix with two SyncScope processes, one of them playing reTHINK (`syncscope runtime
--flavour rethink`, INTEROP.md): a reTHINK reporter with SyncScope observers, and the reverse, through a
`syncscope node` process: URL keys, dotted keys, set, remove, array insert / remove / element set, a
batch, children both ways with a child edit, read, delete. Replicas (data and children) end equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.net.test_cli import Process, start_node, summary, syncscope

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@pytest.mark.parametrize(("reporter_flavour", "observer_flavour"), [("rethink", "syncscope"),
                                                                    ("syncscope", "rethink")])
async def test_flavour_matrix(processes: list[Process], reporter_flavour: str, observer_flavour: str) -> None:
    node, url = await start_node(processes, "a.example")
    reporter = await syncscope("runtime", "--node", url, "--domain", "a.example", "--flavour", reporter_flavour,
                               "--script", str(SCENARIOS / "matrix-reporter.json"), "--timeout", "60")
    observers = await syncscope("runtime", "--node", url, "--domain", "a.example", "--flavour", observer_flavour,
                                "--script", str(SCENARIOS / "matrix-observers.json"), "--timeout", "60")
    processes += [reporter, observers]
    code_r, out_r, err_r = await reporter.finish()
    code_o, out_o, err_o = await observers.finish()
    rep, obs = summary(out_r), summary(out_o)
    assert (code_r, code_o) == (0, 0), (rep, obs, err_r[-2000:], err_o[-2000:])
    assert rep["runtime"].startswith("runtime://" if reporter_flavour == "rethink" else "hyperty-runtime://")
    assert obs["runtime"].startswith("runtime://" if observer_flavour == "rethink" else "hyperty-runtime://")
    chat = rep["objects"]["chat"]
    for alias in ("bob_chat", "carol_chat"):
        replica = obs["objects"][alias]
        assert replica["url"] == chat["url"] and replica["role"] == "observer"
        assert (replica["digest"], replica["children"]) == (chat["digest"], chat["children"])
        assert replica["version"] == chat["version"]
    assert obs["objects"]["read"]["version"] <= chat["version"]
    assert rep["edits_sent"] == 10 and obs["changes_received"] > 0
