"""Headless Chromium driven over the DevTools protocol: open a page, click a tab by its text, read it, screenshot it."""

import base64
import itertools
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

# Headless Chromium on a machine with no network but loopback: no background traffic, no first-run screens.
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FLAGS = [*HEADLESS, "--remote-debugging-port=0"]


class Browser:
    """One Chromium page; `close()` ends the browser's whole process group."""

    def __init__(self, chromium: str, profile: Path, width: int = 1400, height: int = 1000, timeout: float = 60.0):
        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            page = next(t for t in json.loads(response.read()) if t["type"] == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.ids = itertools.count(1)

    def call(self, method: str, **params) -> dict:
        request_id = next(self.ids)
        self.socket.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for_text(self, *needles: str, timeout: float = 60.0) -> str:
        """Poll the page's text until every needle is in it (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if all(n in text for n in needles):
                return text
            if time.monotonic() > deadline:
                missing = [n for n in needles if n not in text]
                raise TimeoutError(f"page lacks {missing} after {timeout}s; it shows: {text[:2000]}")
            time.sleep(0.5)

    def open(self, url: str, *needles: str) -> str:
        self.call("Page.navigate", url=url)
        return self.wait_for_text(*needles)

    def click(self, label: str, last: bool = True) -> None:
        """Click the (last, else first) button, link or tab whose own text is exactly `label`."""
        found = self.evaluate(
            "(() => { const hits = [...document.querySelectorAll('button, a, [role=tab], [role=button]')]"
            f".filter(e => e.innerText && e.innerText.trim() === {json.dumps(label)});"
            f" const el = hits[{'hits.length - 1' if last else '0'}]; if (!el) return false; el.click(); return true; }})()"
        )
        if not found:
            raise LookupError(f"nothing clickable labelled {label!r}")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.socket.close()
        except AttributeError:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.process.wait(30)
