"""Schema URLs of the bundled descriptors (`resources/schemas`)."""

from core.protocol.address import schema_url

CATALOGUE_DOMAIN = "syncscope.example"
COMM_SCHEMA = schema_url(CATALOGUE_DOMAIN, "Communication")
CONNECTION_SCHEMA = schema_url(CATALOGUE_DOMAIN, "Connection")
CONTEXT_SCHEMA = schema_url(CATALOGUE_DOMAIN, "Context")


def expand(schema: str) -> str:
    """A bare descriptor name (`"Communication"`) as its schema URL; URLs pass unchanged."""
    return schema if "://" in schema else schema_url(CATALOGUE_DOMAIN, schema)
