"""URL shapes and routing helpers (PROTOCOL §1.1, §1.4 step 5, §1.5)."""

from __future__ import annotations

HYPERTY = "hyperty"
RUNTIME = "hyperty-runtime"
#: A reTHINK runtime's URL scheme (`runtime://<d>/<guid>`, INTEROP §1): a runtime URL like ours.
RETHINK_RUNTIME = "runtime"
#: Prefixes of a runtime URL, ours first (INTEROP §1: both are accepted everywhere).
RUNTIME_PREFIXES = (RUNTIME + "://", RETHINK_RUNTIME + "://")
MN_PREFIX = "domain://msg-node."
REGISTRY_PREFIX = "domain://registry."
SESSION = "mn:/session"
MONITOR = "mn:/monitor"

#: Schemes of PROTOCOL §1.1 that name something other than a data object: never an ObjectURL scheme.
RESERVED_SCHEMES = frozenset({HYPERTY, RUNTIME, RETHINK_RUNTIME, "domain", "user", "hyperty-catalogue", "mn",
                              "monitor"})

#: Suffixes an ObjectURL carries for its channels (PROTOCOL §1.1).
SUBSCRIPTION = "/subscription"
CHANGES = "/changes"
CHILDREN = "/children/"


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else ""


def authority(url: str) -> str:
    """The URL authority (domain) of `scheme://authority/...`; '' when there is none."""
    start = url.find("://") + 3
    if start == 2:
        return ""
    end = url.find("/", start)
    return url[start:] if end < 0 else url[start:end]


def route_domain(to: str) -> str:
    """Domain whose Message Node a message for `to` leaves through (PROTOCOL §1.4 step 5)."""
    if to.startswith(MN_PREFIX):
        return to[len(MN_PREFIX):].split("/", 1)[0]
    if to.startswith(REGISTRY_PREFIX):
        return to[len(REGISTRY_PREFIX):].split("/", 1)[0]
    return authority(to)


def is_node_address(address: str, domain: str) -> bool:
    """An address of `domain`'s Message Node itself: `mn:/…`, `domain://msg-node.<domain>` or under
    it, `domain://registry.<domain>` (no session may send from these, PROTOCOL §6)."""
    node = MN_PREFIX + domain
    return (address.startswith("mn:/") or address == node or address.startswith(node + "/")
            or address == REGISTRY_PREFIX + domain)


def mn_sm(domain: str) -> str:
    return f"{MN_PREFIX}{domain}/sm"


def object_allocation(domain: str) -> str:
    return f"{MN_PREFIX}{domain}/object-address-allocation"


def hyperty_allocation(domain: str) -> str:
    return f"{MN_PREFIX}{domain}/hyperty-address-allocation"


def registry(domain: str) -> str:
    return f"{REGISTRY_PREFIX}{domain}"


def runtime_url(domain: str, ident: str) -> str:
    return f"{RUNTIME}://{domain}/{ident}"


def sm_of(runtime: str) -> str:
    return runtime + "/sm"


def allocation_of(runtime: str) -> str:
    return runtime + "/address-allocation"


def is_hyperty(url: str) -> bool:
    """`hyperty://<d>/<id>`: a non-empty domain and one non-empty path segment (PROTOCOL §1.1)."""
    if not url.startswith(HYPERTY + "://"):
        return False
    parts = url[len(HYPERTY) + 3:].split("/")
    return len(parts) == 2 and all(parts)


def is_runtime_address(url: str) -> bool:
    """An address under a runtime URL of either scheme (INTEROP §1)."""
    return url.startswith(RUNTIME_PREFIXES)


def runtime_of(url: str) -> str:
    """`hyperty-runtime://d/id` (or reTHINK's `runtime://d/id`) of any address under a runtime URL ('' if not one)."""
    if not is_runtime_address(url):
        return ""
    parts = url.split("/")
    # `hyperty-runtime://<d>/<id>` needs a non-empty domain and id (PROTOCOL §1.1).
    return "/".join(parts[:4]) if len(parts) >= 4 and parts[2] and parts[3] else ""


def is_object_url(url: str) -> bool:
    """An ObjectURL `<scheme>://<d>/<guid>` (one path segment, not a hyperty/runtime/domain URL)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or scheme in RESERVED_SCHEMES:
        return False
    parts = rest.split("/")
    return len(parts) == 2 and all(parts)


def object_of(address: str) -> str:
    """The ObjectURL an address belongs to (`O`, `O/subscription`, `O/changes`, `O/children/n`)."""
    # str.find, not split: the node runs this for every address of a bulk subscription
    start = address.find("://") + 3
    if start == 2:
        return ""
    slash = address.find("/", start)
    if slash <= start:
        return ""
    end = address.find("/", slash + 1)
    if end < 0:
        end = len(address)
    return address[:end] if end > slash + 1 else ""


def subscription(obj: str) -> str:
    return obj + SUBSCRIPTION


def changes(obj: str) -> str:
    return obj + CHANGES


def children(obj: str, name: str) -> str:
    return obj + CHILDREN + name


def child_name(address: str) -> str:
    """`n` of `O/children/n`, '' for any other address (a name is one path segment, PROTOCOL §1.1)."""
    obj = object_of(address)
    rest = address[len(obj):]
    name = rest[len(CHILDREN):] if obj and rest.startswith(CHILDREN) else ""
    return "" if "/" in name else name


def children_prefix(address: str) -> str:
    """`O/children/` of an address `O/children/<name>`, '' otherwise: reTHINK subscribes that prefix
    for every children channel of O (INTEROP §2)."""
    cut = address.find(CHILDREN)
    return address[:cut + len(CHILDREN)] if cut > 0 and len(address) > cut + len(CHILDREN) else ""


def schema_url(domain: str, name: str) -> str:
    return f"hyperty-catalogue://catalogue.{domain}/.well-known/dataschema/{name}"
