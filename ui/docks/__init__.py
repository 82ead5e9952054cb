"""The console's docks: topology, data objects, subscriptions, routing, messages."""
