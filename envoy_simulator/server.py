"""The simulated gateway: lifecycle, tokens, faults, firmware upgrades and site changes.

Requests go through pipeline.py (outages, faults, latency) and gatekeeper.py
(auth) to the endpoint routing in routes.py; sockets live in listeners.py, the
/_sim control API in control.py and the fault kinds in faults.py. The site's
physics is model.py (sun and load in curves.py, batteries in battery.py), the
system controller's state (tariff, relays) ensemble.py.
"""

import asyncio
import math
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .auth import (
    INSTALLER_TOKEN_LIFETIME_S,
    OWNER_TOKEN_LIFETIME_S,
    envoy_password,
    installer_password,
)
from .clock import Clock, SystemClock
from .cloud import CloudAccount, CloudHooks, FakeCloud, TokenFormat, default_accounts
from .control import SimulatorControl, serial_text
from .faults import ANY_ENDPOINT, Fault, FaultBook, FaultKind, InjectContext
from .gatekeeper import Gatekeeper
from .listeners import ListenerSet
from .model import SiteCounters, SiteModel
from .payloads import PayloadBuilder
from .pipeline import Pipeline
from .profiles import PROFILES, Profile, get_profile
from .stats import RequestRecord, StatsBook


class EnvoySimulator:
    """A fake Enphase Envoy / IQ Gateway served over real sockets."""

    def __init__(
        self,
        profile: str | Profile = "metered_split",
        *,
        clock: Clock | None = None,
        latency: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        http_port: int | None = None,
        https_port: int | None = None,
        cloud_port: int | None = 0,
        seed: int = 1,
        daily_outage: bool = False,
        history_start: float | None = None,
    ) -> None:
        """Prepare a gateway playing ``profile``; nothing listens until start().

        Energy counters are functions of the clock and ``seed``: production,
        load and consumption counters are the same whenever a simulator
        started; those of the grid and the battery are integrated from local
        midnight of the first day read, so simulators started on the same
        local day agree on every counter (see model.py). ``history_start``
        (epoch) integrates those from that instant instead, so simulators
        sharing it agree whenever they start; start-up then grows with the
        time since it (about 0.15 s a day).
        """
        hardware = get_profile(profile) if isinstance(profile, str) else profile
        self._hardware = hardware
        self._gateway = hardware
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.latency = latency
        self.daily_outage = daily_outage
        self.history_start = history_start
        self.host = host
        self.seed = seed
        self.serial = hardware.serial
        self.part_number = hardware.part_number
        self._requested_ports = (port, http_port, https_port, cloud_port)
        self._gate = Gatekeeper(hardware.serial, seed)
        self._faults = FaultBook()
        self._stats = StatsBook()
        self._inject_context = InjectContext(
            wrap_counters=lambda serials, immediate: self.model.push_to_wrap(
                serials, self.now(), immediate=immediate
            ),
            minted_token_ids=lambda: frozenset(self._gate.tokens.minted),
        )
        self.cloud_accounts: dict[str, CloudAccount] = default_accounts()
        self._model: SiteModel | None = None
        self._builder: PayloadBuilder | None = None
        self._pending_upgrade: tuple[Profile, float] | None = None
        self._runner: web.AppRunner | None = None
        self._cloud_runner: web.AppRunner | None = None
        self._cloud: FakeCloud | None = None
        self._listeners = ListenerSet(host, lambda: self.profile.web_tokens)
        self._pipeline = Pipeline(
            self,
            faults=self._faults,
            gate=self._gate,
            stats=self._stats,
            control=SimulatorControl(self, self._stats),
            stopping=lambda: self._listeners.stopping,
        )
        self._started = False
        self.port = 0
        self.http_port: int | None = None
        self.https_port: int | None = None
        self.cloud_port: int | None = None

    # -- identity -----------------------------------------------------------

    @property
    def profile(self) -> Profile:
        """Return the gateway as it is now: its hardware running its current firmware."""
        self._apply_due_upgrade(self.now())
        return self._gateway

    @property
    def firmware(self) -> str:
        """Return the current firmware version (no letter prefix)."""
        return self.profile.firmware

    @property
    def address(self) -> str:
        """Return ``host:port`` of the main listener, as a user would type it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def cloud_url(self) -> str:
        """Return the fake cloud's base URL."""
        if self.cloud_port is None:
            raise RuntimeError(
                "the fake cloud is not running (cloud_port=None or not started)"
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.cloud_port}"

    @property
    def login_url(self) -> str:
        """Return the fake Enlighten login URL."""
        return f"{self.cloud_url}/login/login.json"

    @property
    def tokens_url(self) -> str:
        """Return the fake Entrez token URL."""
        return f"{self.cloud_url}/tokens"

    @property
    def envoy_password(self) -> str:
        """Return the ``envoy`` user's digest password."""
        return envoy_password(self.serial)

    @property
    def installer_password(self) -> str:
        """Return the ``installer`` user's digest password."""
        return installer_password(self.serial)

    @property
    def model(self) -> SiteModel:
        """Return the site physics model (created on first use)."""
        if self._model is None:
            self._model = SiteModel(
                self._hardware,
                self.seed,
                self.now(),
                history_start=self.history_start,
            )
            self._builder = PayloadBuilder(self._model, self.serial)
        return self._model

    @property
    def builder(self) -> PayloadBuilder:
        """Return the payload builder."""
        self.model  # noqa: B018 - creates the builder with the model
        assert self._builder is not None
        return self._builder

    @property
    def clock(self) -> Clock:
        """Return the clock the simulator reads."""
        return self._clock

    def now(self) -> float:
        """Return the simulator clock's reading (epoch seconds)."""
        return self._clock()

    # -- lifecycle ----------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Start serving."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving."""
        await self.stop()

    async def start(self) -> None:
        """Open the listeners and the fake cloud."""
        if self._started:
            raise RuntimeError("simulator already started")
        self._started = True
        self.model  # noqa: B018 - build the site before the first request arrives
        # A lock binds to the loop that first waits on it: a new one per start.
        self._pipeline.lock = asyncio.Lock()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._pipeline.handle)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await self._listeners.prepare(self._runner)
        port, http_port, https_port, cloud_port = self._requested_ports
        try:
            self.port = self._listeners.listen(port, "dual")
            if http_port is not None:
                self.http_port = self._listeners.listen(http_port, "http")
            if https_port is not None:
                self.https_port = self._listeners.listen(https_port, "https")
            if cloud_port is not None:
                self.cloud_port = await self._start_cloud(cloud_port)
        except BaseException:
            await self.stop()
            raise

    async def _start_cloud(self, port: int) -> int:
        """Start the fake Enlighten/Entrez service and return its port."""
        hooks = CloudHooks(
            mint=lambda serial, username: self.mint_token(
                serial=serial, username=username
            ),
            known_serials=self._known_serials,
            now=self.now,
            intercept=self._pipeline.cloud_intercept,
        )
        cloud = FakeCloud(self.cloud_accounts, hooks)
        self._cloud = cloud
        runner = web.AppRunner(
            cloud.application(),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        self._cloud_runner = runner
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every listener, connection and background task."""
        await self._listeners.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._cloud_runner is not None:
            await self._cloud_runner.cleanup()
            self._cloud_runner = None
        self._started = False

    # -- tokens -------------------------------------------------------------

    def mint_token(
        self,
        role: str = "owner",
        lifetime_seconds: float | None = None,
        serial: str | None = None,
        username: str = "owner@example.com",
    ) -> str:
        """Return an ES256 JWT this gateway (and any with ``serial``) accepts."""
        if lifetime_seconds is None:
            lifetime_seconds = (
                OWNER_TOKEN_LIFETIME_S
                if role == "owner"
                else INSTALLER_TOKEN_LIFETIME_S
            )
        return self._gate.tokens.mint(
            serial=serial if serial is not None else self.serial,
            role=role,
            username=username,
            issued_at=self.now(),
            lifetime_s=lifetime_seconds,
        )

    def revoke_token(self, token: str) -> None:
        """Make the gateway refuse ``token`` from now on."""
        self._gate.tokens.revoke(token)

    def revoke_all_tokens(self) -> None:
        """Make the gateway refuse every token issued so far (and drop sessions)."""
        self._gate.tokens.revoke_all(self.now())
        self._gate.sessions.clear()

    # -- cloud --------------------------------------------------------------

    def add_cloud_account(
        self,
        email: str,
        password: str,
        *,
        mfa: bool = False,
        token_format: TokenFormat = "raw",  # noqa: S107 - a format name
    ) -> CloudAccount:
        """Add (or replace) an Enlighten account on the fake cloud."""
        account = CloudAccount(email, password, mfa=mfa, token_format=token_format)
        self.cloud_accounts[email] = account
        return account

    def _known_serials(self) -> set[str]:
        """Return every serial the fake cloud will mint tokens for."""
        return {profile.serial for profile in PROFILES.values()} | {self.serial}

    # -- faults -------------------------------------------------------------

    def inject(
        self,
        endpoint: str,
        kind: FaultKind,
        *,
        count: int | None = None,
        duration: float | None = None,
        **params: Any,
    ) -> Fault:
        """Inject a fault on ``endpoint`` (a path, or "*" for every gateway endpoint).

        The kinds and their params are listed in envoy_simulator.faults.
        """
        if endpoint != ANY_ENDPOINT and not endpoint.startswith("/"):
            raise ValueError(f"endpoint must be a path or '*', not {endpoint!r}")
        fault = Fault(
            endpoint=endpoint,
            kind=kind,
            count=count,
            duration=duration,
            params=dict(params),
            started_at=self.now(),
        )
        return self._faults.add(fault, self._inject_context)

    def clear_faults(self, endpoint: str | None = None) -> int:
        """Clear injected faults (all, or those for ``endpoint``); return how many."""
        self._pipeline.release(endpoint)
        return self._faults.clear(endpoint)

    @property
    def faults(self) -> list[Fault]:
        """Return the active faults."""
        return self._faults.active(self.now())

    # -- firmware upgrade ---------------------------------------------------

    def upgrade_firmware(
        self, profile_name: str, *, outage_seconds: float = 60.0
    ) -> None:
        """Install ``profile_name``'s firmware: an outage, then new firmware, same hardware."""
        target = get_profile(profile_name)
        self._pending_upgrade = (
            self._hardware.with_firmware(target),
            self.now() + outage_seconds,
        )
        self._apply_due_upgrade(self.now())

    @property
    def upgrade_pending(self) -> bool:
        """Return whether a firmware upgrade's outage is still going on."""
        self._apply_due_upgrade(self.now())
        return self._pending_upgrade is not None

    def _apply_due_upgrade(self, now: float) -> None:
        """Finish a pending upgrade once its outage is over."""
        pending = self._pending_upgrade
        if pending is None or now < pending[1]:
            return
        self._pending_upgrade = None
        self._gateway = pending[0]
        # The gateway restarted: sessions are gone, counters carry on.
        self._gate.sessions.clear()

    # -- site changes -------------------------------------------------------

    def silence_inverter(self, serial: str) -> None:
        """Make inverter ``serial`` stop producing and reporting from now on.

        Its last report stays in every payload and its energy stops counting
        (in its own counters and in the site's) until it is resumed.
        """
        self.model.silence(serial_text(serial), self.now())

    def resume_inverter(self, serial: str) -> None:
        """Make a silenced inverter produce again; it reports at its next 5-minute slot."""
        self.model.resume(serial_text(serial), self.now())

    def add_inverters(self, count: int = 1) -> list[str]:
        """Add ``count`` new microinverters to the site now; return their serials.

        Serials continue the profile's range after the present and removed
        inverters. A new inverter reports (0 W) as it joins, then on its own
        5-minute slot, and the production meters include it from now on.
        """
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"count must be an integer, not {count!r}")
        return [spec.serial for spec in self.model.add_inverters(count, self.now())]

    def set_meter(
        self,
        measurement_type: str,
        *,
        enabled: bool | None = None,
        metering_status: str | None = None,
        status_flags: list[str] | None = None,
    ) -> None:
        """Change the CT slot measuring ``measurement_type`` now.

        ``enabled`` switches the CT on or off (/ivp/meters ``state``; a
        disabled CT leaves /ivp/meters/readings and production.json, and the
        gateway falls back as it does without that CT). ``metering_status``
        ("normal", "not-metering", "check-wiring") and ``status_flags`` are
        what /ivp/meters reports; switching ``enabled`` without a status
        resets the status to the usual one for the new state.
        """
        self._set_hardware(
            self._hardware.with_meter(
                measurement_type,
                enabled=enabled,
                metering_status=metering_status,
                status_flags=status_flags,
            )
        )

    def _set_hardware(self, hardware: Profile) -> None:
        """Change the hardware, keeping the firmware it runs (and any pending upgrade)."""
        self._hardware = hardware
        self._gateway = hardware.with_firmware(self._gateway)
        pending = self._pending_upgrade
        if pending is not None:
            self._pending_upgrade = (hardware.with_firmware(pending[0]), pending[1])
        if self._model is not None:
            self._model.profile = hardware
            self._model.sampler.profile = hardware

    # -- batteries and the grid -----------------------------------------------

    def set_grid(self, on: bool) -> None:
        """Make the grid fail (False) or come back (True) now: the gateway stays up.

        Off grid the batteries supply the house and take the solar it does not
        use (curtailing the rest); the grid CTs read nothing. Only sites with
        a system controller and batteries can run off grid.
        """
        if not isinstance(on, bool):
            raise TypeError(f"on must be true or false, not {on!r}")
        model = self.model
        if not model.sampler.can_island:
            raise ValueError(
                f"profile {self.profile.name} has no system controller with batteries: "
                "without the grid it would switch off"
            )
        now = self.now()
        model.timeline.set_grid(now, on)
        model.storage_changed(now)

    def set_battery_mode(
        self,
        mode: str | None = None,
        *,
        reserve: float | None = None,
        charge_from_grid: bool | None = None,
        very_low: float | None = None,
    ) -> dict[str, Any]:
        """Change the storage settings now (as Enlighten would); return the new tariff.

        ``mode``: backup, self-consumption, savings-mode or economy;
        ``reserve``: the reserve kept for outages (%); ``very_low``: the floor
        off grid (%). The battery follows at once.
        """
        if not self.model.sampler.has_battery:
            raise ValueError(f"profile {self.profile.name} has no battery")
        if charge_from_grid is not None and not isinstance(charge_from_grid, bool):
            raise TypeError("charge_from_grid must be true or false")
        result: dict[str, Any] = self.builder.ensemble.tariff.change(
            self.now(),
            mode=mode,
            reserve_pct=reserve,
            very_low_pct=very_low,
            charge_from_grid=charge_from_grid,
        )
        return result

    def true_battery_energy(self) -> dict[str, Any]:
        """Return the battery's true lifetime charge and discharge (Wh) and its charge now.

        These are the integrals of the battery's power, whether or not a
        storage CT measures them (where one does, its counters are these).
        """
        state = self.model.battery(self.now())
        if state is None:
            raise ValueError(f"profile {self.profile.name} has no battery")
        return {
            "charged_wh": state.charged_wh,
            "discharged_wh": state.discharged_wh,
            "stored_wh": state.stored_wh,
            "percent_full": state.percent_full,
            "power_w": state.power_w,
            "state": state.state,
            "mode": state.settings.mode,
            "reserve_pct": state.settings.reserve_pct,
            "charge_from_grid": state.settings.charge_from_grid,
            "grid_on": state.grid_on,
        }

    def hourly_history(self, hours: int = 168) -> list[SiteCounters]:
        """Return the site's lifetime counters at the start of each of the last ``hours`` hours.

        Oldest first; the last entry is the start of the current hour. The
        values come from the live counters' own model, so they lead on into
        what the gateway reports now. At most nine days back.
        """
        if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
            raise ValueError(f"hours must be a positive whole number, not {hours!r}")
        model = self.model
        now = self.now()
        current = math.floor(now / 3600.0) * 3600.0
        first = current - (hours - 1) * 3600.0
        model.ledger.value(0, now)
        if first < model.ledger.coarse_start:
            most = int((current - model.ledger.coarse_start) // 3600.0) + 1
            raise ValueError(f"at most {most} hours of history are kept")
        return [model.site_counters(first + 3600.0 * n) for n in range(hours)]

    # -- statistics ---------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Return per-endpoint request counts, statuses and simulated busy time."""
        return self._stats.snapshot()

    @property
    def request_log(self) -> list[RequestRecord]:
        """Return the requests handled so far, oldest first."""
        return list(self._stats.log)

    def reset_stats(self) -> None:
        """Forget the statistics and the request log."""
        self._stats.reset()
