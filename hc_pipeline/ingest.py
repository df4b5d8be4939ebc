"""`hc-pipeline ingest`: check every argument first, then stream each file into the landing zone."""

import os
from collections.abc import Iterator
from pathlib import Path


def problem_with(name: str) -> str | None:
    """Why the argument `name` cannot be landed as a file, in one line naming it; None if it can."""
    path = Path(name)
    if not os.path.lexists(path):
        return f"{name}: no such file"
    if path.is_symlink() and not path.exists():
        return f"{name}: a symlink to {os.readlink(path)}, which does not exist"
    if path.is_dir():
        return f"{name}: a folder, not a file (name its files, e.g. {name.rstrip('/')}/*)"
    if not path.is_file():
        return f"{name}: not a regular file"
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name}: the file name is not valid UTF-8, which object keys must be; rename the file"
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        return f"{name}: cannot be read ({error.strerror or error})"
    return None


def problems(domain: str, names: list[str]) -> list[str]:
    """One line per argument that cannot be landed, and per pair that would land under the same key."""
    found = [problem for problem in map(problem_with, names) if problem]
    first_by_key: dict[str, str] = {}
    for name in names:
        key = f"{domain}/{Path(name).name}"
        if key in first_by_key:
            found.append(f"{first_by_key[key]} and {name}: both would land as {key}; rename one")
        first_by_key.setdefault(key, name)
    return found


def ingest(domain: str, names: list[str], landing) -> Iterator[str]:
    """Land each file under `<domain>/<file name>` through `landing`, saying so as each one lands."""
    for name in names:
        obj = landing.put_file(f"{domain}/{Path(name).name}", name)
        yield f"landed {obj.key} ({obj.size} bytes) -> {landing.uri(obj.key)}"
