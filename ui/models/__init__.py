"""Custom item models, one per dock, fed by the monitor feed in batches."""
