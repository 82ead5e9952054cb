from core.lab import Lab
from core.schemas import COMM_SCHEMA


async def test_create_subscribe_update_across_domains(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"participants": {}}, observers=[bob.url])
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    chat.data["participants"]["bob"] = {"status": "online"}
    await lab.settle()
    assert obs.data == {"participants": {"bob": {"status": "online"}}}
    assert obs.version == chat.version == 1
