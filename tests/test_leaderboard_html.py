"""The HTML leaderboard in a real browser: headless Chromium (Debian package `chromium`).

The test drives Chromium through the DevTools protocol with a minimal standard-library WebSocket client:
it attaches to a blank page first, then navigates to the leaderboard, so every console message, uncaught
exception, log entry and network request of the page load is seen. It asserts no console errors, no request
leaves file:/data: URLs (works offline), a click on a column header reorders the rows, and `--screenshot`
produces a non-trivial PNG. Chromium is installed with apt-get when missing and the test runs as root; the test
is skipped (with the reason) only when it cannot be installed.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from medmix.leaderboard import build_leaderboard
from medmix.leaderboard.example import example_runs

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio"]


def _find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _install_chromium() -> str:
    """Return why it could not be installed ('' on success)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "chromium is not installed and the tests do not run as root (apt-get install -y chromium)"
    if not shutil.which("apt-get"):
        return "chromium is not installed and apt-get is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"`{' '.join(cmd)}` failed: {exc}"
        if done.returncode != 0:
            return f"`{' '.join(cmd)}` exited {done.returncode}: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="module")
def browser() -> str:
    exe = _find_browser()
    if exe is None:
        reason = _install_chromium()
        exe = _find_browser()
        if exe is None:
            pytest.skip(f"headless Chromium unavailable: {reason or 'not found after installing'}")
    return exe


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("html")
    runs = example_runs(root / "runs")
    build_leaderboard(runs, root / "board", n_bootstrap=200, seed=0)
    return root / "board" / "leaderboard.html"


@pytest.fixture(scope="module")
def svg_page(tmp_path_factory) -> Path:
    """The same leaderboard with SVG figures only (embedded as SVG data URIs), challengeR conventions."""
    root = tmp_path_factory.mktemp("html_svg")
    runs = example_runs(root / "runs")
    build_leaderboard(runs, root / "board", n_bootstrap=50, seed=0, figure_formats=("svg",), compat="challenger")
    return root / "board" / "leaderboard.html"


FIGURES = ("Podium plot", "Dot-and-box plot", "Ranking heatmap", "Bootstrap ranks", "Blob plot · dice",
           "Blob plot · bahd", "Rank per task", "Significance map", "Stacked frequency", "Kendall's τ",
           "Ranks across ranking schemes", "Dendrogram of tasks")
IMAGES = "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"


def _check_figures(tools) -> list:
    images = tools.evaluate(IMAGES)
    assert images and all(done and width > 100 and height > 100 for _, done, width, height in images), images
    for title in FIGURES:
        assert any(alt.startswith(title) for alt, *_ in images), f"{title!r} not on the page"
    assert sum(alt.startswith("Podium plot") for alt, *_ in images) == 4  # one per task
    return images


# --- a minimal WebSocket client (RFC 6455: client frames masked, text frames, fragments, ping/pong, close) ----------

class WebSocket:
    def __init__(self, url: str, timeout_s: float = 30.0):
        assert url.startswith("ws://"), url
        host_port, _, path = url[len("ws://"):].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the WebSocket handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"WebSocket handshake refused: {head.decode(errors='replace')}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise ConnectionError("DevTools closed the WebSocket")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self) -> str:
        message, kind = b"", None
        while True:
            b0, b1 = self._read(2)
            opcode, fin = b0 & 0x0F, b0 & 0x80
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode in (0x1, 0x2):
                message, kind = payload, opcode
            elif opcode == 0x0:
                message += payload
            if fin and kind is not None:
                return message.decode()

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class DevTools:
    """Chromium started with --remote-debugging-port=0, attached to its first page over the DevTools protocol."""

    def __init__(self, exe: str, profile: Path, timeout_s: float = 30.0):
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1280,900",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        lines: queue.Queue[str] = queue.Queue()

        def pump():
            for line in self.proc.stderr:
                self.stderr.append(line)
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        browser_ws = None
        while browser_ws is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if "DevTools listening on " in line:
                browser_ws = line.split("DevTools listening on ", 1)[1].strip()
            elif time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start its DevTools server:\n" + "".join(self.stderr[-20:]))
        host_port = browser_ws[len("ws://"):].split("/", 1)[0]
        page_ws = None
        while page_ws is None and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://{host_port}/json/list", timeout=10) as response:
                targets = json.loads(response.read())
            page_ws = next((t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"), None)
            if page_ws is None:
                time.sleep(0.1)
        if page_ws is None:
            self.close()
            raise RuntimeError("Chromium has no page target")
        self.ws = WebSocket(page_ws, timeout_s)
        self.events: list[dict] = []
        self._id = 0

    def call(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str) -> dict:
        for message in self.events:
            if message.get("method") == event:
                return message
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            self.events.append(message)
            if message.get("method") == event:
                return message
        raise TimeoutError(f"no {event} within {self.timeout_s} s")

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors/asserts, uncaught exceptions, error log entries, and requests that leave the file."""
        found = []
        for message in self.events:
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"uncaught exception: {params['exceptionDetails'].get('text')} "
                             f"{params['exceptionDetails'].get('exception', {}).get('description', '')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log error: {params['entry'].get('text')} ({params['entry'].get('url', '')})")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    found.append(f"external request: {url}")
        return found

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _open(tools, path: Path) -> None:
    """Watch the console, log and network, then load `path` and wait for its load event."""
    for domain in ("Runtime", "Log", "Page", "Network"):
        tools.call(f"{domain}.enable")
    tools.call("Page.navigate", url=path.resolve().as_uri())
    tools.wait_for("Page.loadEventFired")


ROWS = "Array.from(document.querySelectorAll('#{table} tbody tr')).map(r => r.cells[{col}].textContent)"
CLICK = "document.querySelector('#{table} thead th:nth-child({nth})').click()"


def test_page_loads_without_errors_and_sorts(browser, page, tmp_path):
    tools = DevTools(browser, tmp_path / "profile")
    try:
        _open(tools, page)

        assert tools.evaluate("document.title") == "medmix leaderboard"
        assert tools.evaluate("document.querySelectorAll('table.sortable').length") >= 6
        before = tools.evaluate(ROWS.format(table="overall-table", col=1))
        assert len(before) == 4 and before[0] == "medsamix_merged"

        tools.evaluate(CLICK.format(table="overall-table", nth=2))  # Algorithm: A → Z
        by_name = tools.evaluate(ROWS.format(table="overall-table", col=1))
        assert by_name == sorted(before) and by_name != before
        assert tools.evaluate("document.querySelector('#overall-table thead th:nth-child(2)')"
                              ".getAttribute('aria-sort')") == "ascending"

        tools.evaluate(CLICK.format(table="overall-table", nth=1))  # Rank ascending: the original order
        assert tools.evaluate(ROWS.format(table="overall-table", col=1)) == before
        tools.evaluate(CLICK.format(table="overall-table", nth=1))  # Rank descending: reversed
        assert tools.evaluate(ROWS.format(table="overall-table", col=1)) == before[::-1]

        # numeric columns sort by value, not text: "dice mean over tasks" descending = best Dice first
        tools.evaluate(CLICK.format(table="overall-table", nth=5))
        tools.evaluate(CLICK.format(table="overall-table", nth=5))
        dice = [float(x) for x in tools.evaluate(ROWS.format(table="overall-table", col=4))]
        assert dice == sorted(dice, reverse=True)
        # the header is reachable and sortable from the keyboard (Enter)
        tools.evaluate("document.querySelector('#consensus-table thead th:nth-child(2)').dispatchEvent("
                       "new KeyboardEvent('keydown', {key: 'Enter'}))")
        assert tools.evaluate("document.querySelector('#consensus-table thead th:nth-child(2)')"
                              ".getAttribute('aria-sort')") == "ascending"
        _check_figures(tools)

        time.sleep(0.2)  # let late console messages arrive
        tools.call("Runtime.evaluate", expression="0")
        assert tools.problems() == []

        # negative control: the same checks catch a broken page
        bad = tmp_path / "bad.html"
        bad.write_text('<!DOCTYPE html><html><head><title>bad</title><script>console.error("boom");</script>'
                       '<script src="http://example.invalid/x.js"></script></head><body>'
                       '<script>undefinedFunction();</script></body></html>')
        tools.events.clear()
        tools.call("Page.navigate", url=bad.resolve().as_uri())
        tools.wait_for("Page.loadEventFired")
        tools.call("Runtime.evaluate", expression="0")
        found = "\n".join(tools.problems())
        assert "boom" in found and "undefinedFunction" in found and "example.invalid" in found
    finally:
        tools.close()


def test_svg_figures_render(browser, svg_page, tmp_path):
    tools = DevTools(browser, tmp_path / "profile")
    try:
        _open(tools, svg_page)
        images = _check_figures(tools)
        assert tools.evaluate("Array.from(document.images).every(i => i.src.startsWith('data:image/svg+xml'))")
        assert len(images) == len(list(svg_page.parent.glob("*.svg")))
        time.sleep(0.2)
        tools.call("Runtime.evaluate", expression="0")
        assert tools.problems() == []
    finally:
        tools.close()


def test_screenshot(browser, page, tmp_path):
    shot = tmp_path / "leaderboard.png"
    done = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                           "--window-size=1280,900", "--hide-scrollbars", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.is_file(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 600 and pixels.shape[1] >= 1000
    assert shot.stat().st_size > 20_000
    assert pixels[..., :3].std() > 0.05  # not a blank page


def test_validation_report_in_the_browser(browser, tmp_path):
    """The validation report (same renderer) loads offline without errors, its figures decode and tables sort."""
    import pandas as pd

    from medmix.validation.commute import commute_readiness, write_commute
    from medmix.validation.sites import site_generalisation, write_sites

    rows = [("liver", f"{site}_{i}", "model", "dice", 0.8 - 0.1 * (site == "B") + 0.01 * i)
            for site in "AB" for i in range(6)]
    out = tmp_path / "val"
    write_sites(site_generalisation(pd.DataFrame(rows, columns=["task", "case", "algorithm", "metric", "value"]),
                                    "re:^([AB])_", ["A"]), out)
    write_commute(commute_readiness(pd.DataFrame({"case": list("abcd"), "rating": [1, 2, 2, 3],
                                                  "edit_time": [2, 3, 4, 9], "manual_time": [10] * 4})), out)
    tools = DevTools(browser, tmp_path / "profile")
    try:
        _open(tools, out / "report.html")
        images = tools.evaluate(IMAGES)
        assert len(images) == 2 and all(done and width > 100 for _, done, width, _ in images), images
        assert tools.evaluate("document.querySelectorAll('h2').length") == 2
        before = tools.evaluate(ROWS.format(table="commute-cases", col=1))
        tools.evaluate(CLICK.format(table="commute-cases", nth=2))
        tools.evaluate(CLICK.format(table="commute-cases", nth=2))
        assert tools.evaluate(ROWS.format(table="commute-cases", col=1)) == sorted(before, reverse=True)
        time.sleep(0.2)
        tools.call("Runtime.evaluate", expression="0")
        assert tools.problems() == []
    finally:
        tools.close()
