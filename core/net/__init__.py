"""Links between runtimes and Message Nodes (TRANSPORT.md)."""
