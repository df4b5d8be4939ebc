"""What a reader raises: a file it cannot read, or one only the whole-file reader can read."""


class UnreadableFile(Exception):
    """A landed file that cannot be read as its domain's format; the whole file is quarantined."""

    def __init__(self, source_file: str, reason: str):
        super().__init__(f"{source_file}: {reason}")
        self.source_file = source_file
        self.reason = reason


class NotStreamable(Exception):
    """A file the streaming reader hands to the whole-file reader (which reads it, or says why it cannot)."""


class BinaryContent(NotStreamable):
    """A NUL byte in a file: the whole-file reader calls a CSV binary whatever else it holds."""


class NotUtf8(NotStreamable):
    """Text that is not UTF-8: where the first offending byte is, counted as `bytes.decode("utf-8-sig")` counts it
    (after a byte-order mark), and why."""

    def __init__(self, offset: int, reason: str):
        super().__init__(f"byte {offset}: {reason}")
        self.offset, self.reason = offset, reason
