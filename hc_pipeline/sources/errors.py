"""The one error a reader raises for a file it cannot read."""


class UnreadableFile(Exception):
    """A landed file that cannot be read as its domain's format; the whole file is quarantined."""

    def __init__(self, source_file: str, reason: str):
        super().__init__(f"{source_file}: {reason}")
        self.source_file = source_file
        self.reason = reason
