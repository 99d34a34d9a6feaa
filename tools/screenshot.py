"""Screenshot a standalone HTML map with Debian's Chromium (for the README and for looking at maps).

    python tools/screenshot.py outputs/demo/latest/risicokaart_jeugdhulp.html docs/risicokaart-jeugdhulp.png
"""
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def shoot(html: Path, png: Path, width: int = 1100, height: int = 760, hover: str | None = None) -> None:
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium", args=ARGS,
                                                   viewport={"width": width, "height": height})
        page = ctx.new_page()
        page.goto(Path(html).resolve().as_uri())
        page.wait_for_selector("[data-ready='1']", timeout=60000)  # set by workbench/static/wbmap.js when drawn
        if hover:  # a point as "x,y" in pixels of the page: areas are drawn on a canvas
            x, y = (float(v) for v in hover.split(","))
            page.mouse.move(x, y)
            page.wait_for_timeout(300)
        page.screenshot(path=str(png))
        ctx.close()


if __name__ == "__main__":
    shoot(Path(sys.argv[1]), Path(sys.argv[2]), hover=sys.argv[3] if len(sys.argv) > 3 else None)
