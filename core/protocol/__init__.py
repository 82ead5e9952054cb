"""The sans-I/O core: envelopes, addresses, update forms, versions and schema descriptors."""
