"""Runtime: core bus, Sync Manager, routing, stubs, policy, storage."""
