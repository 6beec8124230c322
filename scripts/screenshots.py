"""Screenshot the demo in headless Chromium and check what the pictures must show.

    scripts/screenshots --out DIR [--profile NAME] [--time HH:MM] [--port N] ...

Uses the demo Home Assistant already answering on ``--host``:``--port``, or starts
``scripts/develop`` with these options (and stops it again at the end). Then it
logs in as demo / demo in headless Chromium (driven by Selenium through
chromedriver) and saves:

- ``integration.png``: Settings > Devices & services > Enphase Local. It must show
  the integration's brand icon, served by Home Assistant from
  custom_components/enphase_local/brand/ (``/api/brands/integration/...``; no
  internet needed): the image must have loaded and be one of those files.
- ``device.png``: the gateway's device page.
- ``energy.png``: the Energy dashboard (today), which must have charts and no
  "no data" message (the demo imports a week of the simulator's history at its
  first start), and ``energy-yesterday.png``, the day before, likewise.

Any check that fails makes the exit status non-zero; the pictures are saved anyway.
Chromium and chromedriver come from the Debian packages ``chromium`` and
``chromium-driver`` (installed with apt-get when missing and possible), or from
``$CHROME_BIN`` / ``$CHROMEDRIVER``; Selenium is installed into this interpreter's
environment when missing. Chromium runs headless with a fresh profile and no
background networking.
"""

import argparse
import asyncio
from collections.abc import Callable, Sequence
import hashlib
import importlib
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any
import urllib.request

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import demo_setup

REPOSITORY = demo_setup.REPOSITORY
BRAND = REPOSITORY / "custom_components" / demo_setup.DOMAIN / "brand"
SELENIUM = "selenium>=4.20,<5"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-US",
    "--window-size=1400,1000",
)
HISTORY_WAIT_S = 300.0
NO_DATA = (
    "There is no data to show",
    "There is no data for this period",
)
"""The Energy cards' messages when they have nothing (frontend translations, en)."""

# Collects everything below ``root``, through shadow roots, that ``test`` accepts.
DEEP_QUERY = """
const test = new Function("el", arguments[0]);
const found = [];
const walk = (root) => {
  for (const el of root.querySelectorAll("*")) {
    if (test(el)) found.push(el);
    if (el.shadowRoot) walk(el.shadowRoot);
  }
};
walk(document);
return found;
"""
DEEP_TEXT = """
const parts = [];
const walk = (root) => {
  for (const node of root.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) parts.push(node.textContent);
    else if (node.nodeType === Node.ELEMENT_NODE) {
      if (node.shadowRoot) walk(node.shadowRoot);
      walk(node);
    }
  }
};
walk(document);
return parts.join(" ").replace(/\\s+/g, " ");
"""


class ScreenshotError(Exception):
    """A picture does not show what it must; the message says what."""


# --- Chromium, chromedriver and Selenium --------------------------------------------


def find_program(environment: str, *names: str) -> str | None:
    """Return ``$environment`` or the first of ``names`` found."""
    if value := os.environ.get(environment):
        return value
    for name in names:
        if name.startswith("/") and Path(name).is_file():
            return name
        if found := shutil.which(name):
            return found
    return None


def browser_programs() -> tuple[str, str]:
    """Return Chromium and chromedriver, installing the Debian packages when missing."""

    def look() -> tuple[str | None, str | None]:
        return (
            find_program("CHROME_BIN", "chromium", "chromium-browser", "google-chrome"),
            find_program(
                "CHROMEDRIVER", "chromedriver", "/usr/lib/chromium/chromedriver"
            ),
        )

    browser, driver = look()
    if browser and driver:
        return browser, driver
    if (apt_get := shutil.which("apt-get")) and os.geteuid() == 0:
        print("==> installing chromium and chromium-driver with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt_get, "install", "-y", "-qq", "chromium", "chromium-driver"]
        if subprocess.run(  # noqa: S603 - fixed arguments
            install, check=False, env=env, stdout=subprocess.DEVNULL
        ).returncode:
            # The package lists may be missing or old; an update that partly
            # fails (an expired mirror) can still leave usable ones.
            subprocess.run(  # noqa: S603 - fixed arguments
                [apt_get, "update", "-qq"], check=False, env=env
            )
            subprocess.run(  # noqa: S603 - fixed arguments
                install, check=True, env=env, stdout=subprocess.DEVNULL
            )
        browser, driver = look()
    if not (browser and driver):
        raise ScreenshotError(
            "no Chromium and chromedriver: install the packages chromium and "
            "chromium-driver, or set CHROME_BIN and CHROMEDRIVER"
        )
    return browser, driver


def selenium_webdriver() -> Any:
    """Return the ``selenium.webdriver`` module, installing Selenium when missing."""
    try:
        return importlib.import_module("selenium.webdriver")
    except ImportError:
        pass
    print(f"==> installing {SELENIUM} into {sys.prefix}", flush=True)
    subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "pip", "install", "-q", SELENIUM], check=True
    )
    importlib.invalidate_caches()
    return importlib.import_module("selenium.webdriver")


def start_browser(
    browser: str, driver: str, profile_dir: Path, timezone: str | None = None
) -> Any:
    """Start headless Chromium through chromedriver.

    In ``timezone`` (the frontend shows times in the browser's time zone), so the
    pictures show the site's hours wherever they are taken.
    """
    webdriver = selenium_webdriver()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    env = dict(os.environ)
    if timezone:
        env["TZ"] = timezone
    service = webdriver.ChromeService(
        executable_path=driver,
        log_output=str(profile_dir.parent / "chromedriver.log"),
        env=env,
    )
    session = webdriver.Chrome(options=options, service=service)
    session.set_page_load_timeout(120)
    session.set_script_timeout(60)
    return session


# --- The demo ------------------------------------------------------------------------


async def demo_answers(host: str, port: int) -> bool:
    """Return whether a Home Assistant answers on ``host``:``port``."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        return await demo_setup.HomeAssistantClient(session, port, host).answers()


def start_demo(args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    """Start scripts/develop in the background (its own process group)."""
    command = [
        "bash",
        str(REPOSITORY / "scripts" / "develop"),
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--sim-port",
        str(args.sim_port),
    ]
    if args.profile:
        command += ["--profile", args.profile]
    if args.time:
        command += ["--time", args.time]
    if args.reset:
        command.append("--reset")
    print(f"==> starting the demo: {' '.join(command[1:])} (log: {log})", flush=True)
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our script, our arguments
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPOSITORY,
        )


def stop_demo(demo: subprocess.Popen[bytes]) -> None:
    """Stop the demo this script started (scripts/develop stops its children)."""
    if demo.poll() is not None:
        return
    print("==> stopping the demo", flush=True)
    demo.send_signal(signal.SIGTERM)
    try:
        demo.wait(timeout=90)
    except subprocess.TimeoutExpired:
        demo.kill()
        demo.wait()


async def wait_for_demo(
    args: argparse.Namespace, demo: subprocess.Popen[bytes] | None
) -> dict[str, Any]:
    """Wait until the demo is usable and its Energy history is in; return what it is."""
    deadline = time.monotonic() + args.timeout
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        hass = demo_setup.HomeAssistantClient(session, args.port, args.host)

        async def up() -> bool | None:
            if demo is not None and demo.poll() is not None:
                raise ScreenshotError(
                    f"the demo exited with {demo.returncode} (see its log)"
                )
            return True if await hass.answers() else None

        await demo_setup.wait_until("Home Assistant", up, deadline, None, 2.0)
        await hass.log_in(demo_setup.DEMO_USER, demo_setup.DEMO_PASSWORD)

        async def loaded() -> dict[str, Any] | None:
            entries = await hass.get(
                f"/api/config/config_entries/entry?domain={demo_setup.DOMAIN}"
            )
            return entries[0] if entries and entries[0]["state"] == "loaded" else None

        entry = await demo_setup.wait_until(
            "the Enphase Local entry to load", loaded, deadline, None
        )
        sim = demo_setup.SimulatorClient(
            session, f"http://{demo_setup.url_host(args.host)}:{args.sim_port}"
        )
        serial = str((await sim.get("info"))["serial"])
        sensors = await demo_setup.energy_sensors_ready(hass, serial, deadline, None)
        production = next(iter(sensors))

        async def history() -> bool | None:
            rows = (
                await demo_setup.recorder_statistics(
                    hass, [production], time.time() - 8 * 86400.0, "hour"
                )
            ).get(production, [])
            return True if len(rows) >= 24 else None

        # The demo imports it as soon as the sensors have states.
        print("==> waiting for the Energy dashboard's history", flush=True)
        await demo_setup.wait_until(
            "the Energy dashboard's history (see the demo's log)",
            history,
            min(deadline, time.monotonic() + HISTORY_WAIT_S),
            None,
            5.0,
        )
        devices: list[dict[str, Any]] = await hass.command(
            "config/device_registry/list"
        )
        gateway = next(
            (
                device
                for device in devices
                if [demo_setup.DOMAIN, serial] in device.get("identifiers", [])
            ),
            None,
        )
        if gateway is None:
            raise ScreenshotError(f"no device for gateway {serial}")
        core: dict[str, Any] = await hass.get("/api/config")
        await hass.close()
        return {
            "time_zone": core.get("time_zone"),
            "serial": serial,
            "title": entry["title"],
            "device_id": gateway["id"],
            "device_name": gateway.get("name_by_user") or gateway.get("name"),
        }


# --- Pictures ------------------------------------------------------------------------


def wait_for(
    what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.5
) -> Any:
    """Call ``probe`` until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        if result := probe():
            return result
        if time.monotonic() > deadline:
            raise ScreenshotError(f"timed out waiting for {what}")
        time.sleep(interval)


def deep(session: Any, test: str) -> list[Any]:
    """Return the page's elements (through shadow roots) for which JS ``test`` holds."""
    found: list[Any] = session.execute_script(DEEP_QUERY, f"return ({test});")
    return found


def page_text(session: Any) -> str:
    """Return the page's text, shadow roots included."""
    return str(session.execute_script(DEEP_TEXT))


def log_in(session: Any, base: str) -> None:
    """Log in through Home Assistant's login page."""
    session.get(f"{base}/")

    def field(name: str) -> Any:
        found = deep(
            session,
            f"el.tagName === 'INPUT' && (el.name === '{name}' || "
            f"el.autocomplete === '{'current-password' if name == 'password' else name}')",
        )
        return found[0] if found else None

    username = wait_for("the login form", lambda: field("username"), 120)
    username.send_keys(demo_setup.DEMO_USER)
    password = wait_for("the password field", lambda: field("password"), 10)
    password.send_keys(demo_setup.DEMO_PASSWORD)
    password.send_keys("\n")
    wait_for(
        "the logged-in frontend",
        lambda: session.execute_script(
            "const ha = document.querySelector('home-assistant');"
            "return Boolean(ha && ha.hass && ha.hass.connected && ha.hass.user);"
        ),
        120,
    )


def settle(seconds: float = 2.0) -> None:
    """Let the page finish rendering (animations, late data)."""
    time.sleep(seconds)


def brand_files() -> dict[str, str]:
    """Return the integration's brand images by SHA-256."""
    return {
        hashlib.sha256(path.read_bytes()).hexdigest(): path.name
        for path in BRAND.glob("*.png")
    }


def integration_page(session: Any, base: str, demo: dict[str, Any], out: Path) -> None:
    """Save the integration's page; check its brand icon."""
    session.get(f"{base}/config/integrations/integration/{demo_setup.DOMAIN}")
    marker = f"/api/brands/integration/{demo_setup.DOMAIN}/"
    wait_for(
        "the config entry on the integration page",
        lambda: demo["title"] in page_text(session),
        60,
    )

    def icons() -> list[Any]:
        return [
            img
            for img in deep(
                session, f"el.tagName === 'IMG' && el.src.includes('{marker}')"
            )
            if session.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0;", img
            )
        ]

    try:
        shown = wait_for("the brand icon to load", icons, 30)
    finally:
        settle()
        session.save_screenshot(str(out / "integration.png"))
    sources = {str(img.get_attribute("src")) for img in shown}
    known = brand_files()
    for source in sources:
        with urllib.request.urlopen(source, timeout=30) as response:  # noqa: S310 - our demo's URL
            body = response.read()
        name = known.get(hashlib.sha256(body).hexdigest())
        if name is None:
            raise ScreenshotError(
                f"{source.split('?')[0]} is not one of custom_components/"
                f"{demo_setup.DOMAIN}/brand/*.png (a placeholder?)"
            )
        print(f"    brand image {source.split('?')[0]} = brand/{name}")
    print(f"==> integration.png: {len(shown)} brand icon(s) shown")


def device_page(session: Any, base: str, demo: dict[str, Any], out: Path) -> None:
    """Save the gateway's device page."""
    session.get(f"{base}/config/devices/device/{demo['device_id']}")
    name = str(demo["device_name"])
    wait_for(
        "the device page",
        lambda: name in page_text(session) and "Sensors" in page_text(session),
        60,
    )
    settle(3.0)
    session.save_screenshot(str(out / "device.png"))
    print(f"==> device.png: {name}")


def energy_page(session: Any, base: str, out: Path) -> None:
    """Save the Energy dashboard; check it has charts and data."""
    session.set_window_size(1400, 1250)
    session.get(f"{base}/energy")

    def charts() -> list[Any]:
        return deep(
            session,
            "el.tagName === 'HA-CHART-BASE' && el.shadowRoot && "
            "el.shadowRoot.querySelector('canvas, svg')",
        )

    def check(picture: str) -> None:
        try:
            found = wait_for("the Energy dashboard's charts", charts, 90)
            settle(5.0)
            text = page_text(session)
        finally:
            session.save_screenshot(str(out / picture))
        empty = [message for message in NO_DATA if message in text]
        if empty:
            raise ScreenshotError(f"{picture}: the Energy dashboard says {empty[0]!r}")
        print(f"==> {picture}: {len(found)} charts, no 'no data' message")

    check("energy.png")
    # The day before: a whole day of the imported history.
    previous = deep(
        session,
        "el.tagName === 'BUTTON' && el.getAttribute('aria-label') === 'Previous'",
    )
    if not previous:
        raise ScreenshotError("the Energy dashboard has no Previous button")
    session.execute_script("arguments[0].click();", previous[0])
    check("energy-yesterday.png")


def take_pictures(args: argparse.Namespace, demo: dict[str, Any], out: Path) -> None:
    """Open the demo in headless Chromium and save the pictures."""
    browser, driver = browser_programs()
    base = f"http://{demo_setup.url_host(args.host)}:{args.port}"
    with tempfile.TemporaryDirectory(prefix="enphase-screenshots-") as scratch:
        profile_dir = Path(scratch) / "profile"
        profile_dir.mkdir()
        session = start_browser(browser, driver, profile_dir, demo.get("time_zone"))
        failures: list[str] = []
        try:
            log_in(session, base)
            print(f"==> logged in as {demo_setup.DEMO_USER} in {browser}", flush=True)
            pictures: tuple[Callable[[], None], ...] = (
                lambda: integration_page(session, base, demo, out),
                lambda: device_page(session, base, demo, out),
                lambda: energy_page(session, base, out),
            )
            for picture in pictures:
                try:
                    picture()
                except ScreenshotError as err:
                    failures.append(str(err))
                    print(f"    FAILED: {err}", flush=True)
        finally:
            session.quit()
        if failures:
            raise ScreenshotError("; ".join(failures))


# --- entry point ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--sim-port", type=int, default=8443)
    parser.add_argument(
        "--profile", default=None, help="simulator profile (when starting the demo)"
    )
    parser.add_argument(
        "--time",
        default=None,
        metavar="HH:MM",
        help="site time (when starting the demo)",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="start the demo's configuration afresh (when starting the demo)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1200.0,
        help="how long to wait for the demo and its history (default 1200 s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Take the screenshots; return the exit status."""
    args = build_parser().parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    demo: subprocess.Popen[bytes] | None = None
    try:
        if asyncio.run(demo_answers(args.host, args.port)):
            print(f"==> using the demo already running on port {args.port}", flush=True)
        else:
            demo = start_demo(args, out / "develop.log")
        info = asyncio.run(wait_for_demo(args, demo))
        take_pictures(args, info, out)
    except (ScreenshotError, demo_setup.DemoError) as err:
        print(f"scripts/screenshots.py: {err}", file=sys.stderr)
        return 1
    except (OSError, aiohttp.ClientError, subprocess.CalledProcessError) as err:
        print(f"scripts/screenshots.py: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    finally:
        if demo is not None:
            stop_demo(demo)
    print(f"==> screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
