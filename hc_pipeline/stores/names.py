"""File names the stores write, bounded in length: a long name keeps its head and extension, its tail becomes a hash."""

import hashlib

# Most filesystems allow 255 bytes a name; leave room for suffixes such as `.reason.json` and temp markers.
MAX_NAME_BYTES = 200


def bounded_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """`name` if it fits in `limit` UTF-8 bytes, else its head, a hash of the whole name, and its extension."""
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) <= limit:
        return name
    digest = hashlib.sha1(encoded).hexdigest()[:16]
    stem, dot, extension = name.rpartition(".")
    suffix = f".{extension}" if dot and stem and len(extension.encode("utf-8", "surrogateescape")) <= 16 else ""
    room = limit - len(digest) - 1 - len(suffix.encode("utf-8", "surrogateescape"))
    head = encoded[:room].decode("utf-8", "ignore")
    return f"{head}-{digest}{suffix}"
