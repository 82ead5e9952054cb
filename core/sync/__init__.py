"""The hyperty side: Syncher, DataObjectReporter/Observer/Child, edit tracking."""
