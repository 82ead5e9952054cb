"""The SyncScope console: Qt widgets and item models fed by the engine's monitor (ARCHITECTURE, CONSOLE.md)."""
