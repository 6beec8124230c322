"""Sun and household load over time, with energy integrals that are pure functions of time.

Powers are sampled on the integration grid (STEP_S) and the true power is the
linear interpolation of the samples, as everywhere in the simulator. Each local
day's samples are scaled so that the day's energy is a closed-form target (from
the day's weather and load level): the energy up to any instant is then the
targets of the days before (cheap to add up, however old the site) plus the
exact integral since local midnight. Nothing depends on when a simulator
started, so a simulator started later reports the same counters.
"""

from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import accumulate, pairwise
import math
from zoneinfo import ZoneInfo

from .ledger import STEP_S
from .noise import stream_key, unit
from .profiles import Profile

SUNRISE_HOUR = 6
SUNSET_HOUR = 20
CLOUD_KNOT_S = 240.0
FRIDGE_PERIOD_S = 1500
FRIDGE_ON_S = 540
FRIDGE_W = 110.0
EVENT_SLOT_S = 900
_STEP = int(STEP_S)
_SAMPLES_PER_MINUTE = 60 // _STEP
_CACHED_DAYS = 12
# Mean of an event's power factor (0.3 + 0.7 u) and of its length (60 + 340 u) s.
_EVENT_MEAN_FACTOR = 0.65
_EVENT_MEAN_S = 230.0
_DAY_S = 86400.0


def _gauss(hour: float, centre: float, width: float) -> float:
    """Return a bell of height 1 centred on ``centre``."""
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


def _daily_shape() -> list[float]:
    """Return the household load shape per minute of the day, peak 1."""
    raw = [
        0.06
        + 0.45 * _gauss(minute / 60, 7.3, 0.9)
        + 0.25 * _gauss(minute / 60, 12.5, 1.6)
        + 1.0 * _gauss(minute / 60, 19.2, 1.7)
        + 0.15 * _gauss(minute / 60, 22.6, 0.9)
        for minute in range(1441)
    ]
    peak = max(raw)
    return [value / peak for value in raw]


LOAD_SHAPE = _daily_shape()
# Minutes past 1440 (a 25-hour day) keep the last minute's shape.
_SHAPE_EXTENDED = LOAD_SHAPE + [LOAD_SHAPE[-1]] * 61
_SHAPE_PREFIX = [0.0, *accumulate(_SHAPE_EXTENDED)]
_LAST_MINUTE = len(_SHAPE_EXTENDED) - 1
_FRIDGE_SAMPLES = FRIDGE_PERIOD_S // _STEP
# The chance of an appliance event in a 15-minute slot follows the load shape.
_EVENT_CHANCE_PER_DAY = sum(
    0.1 + 0.35 * LOAD_SHAPE[min(slot * EVENT_SLOT_S // 60, 1440)]
    for slot in range(int(_DAY_S) // EVENT_SLOT_S)
)


def minute_shape(minute: int) -> float:
    """Return the load shape of ``minute`` past local midnight."""
    return LOAD_SHAPE[min(minute, 1440)]


@dataclass(frozen=True, slots=True)
class DayInfo:
    """One local calendar day at the site."""

    ordinal: int
    midnight: float
    next_midnight: float
    sunrise: float
    sunset: float
    amplitude: float
    clearness: float
    load_scale: float


class LocalCalendar:
    """Local days, sun times and weather of the site's time zone."""

    def __init__(self, timezone: str, seed: int) -> None:
        """Use the IANA ``timezone``."""
        self.zone = ZoneInfo(timezone)
        self._days: dict[int, DayInfo] = {}
        self._last: DayInfo | None = None
        self._clear_key = stream_key(seed, "clearness")
        self._load_key = stream_key(seed, "load-day")

    def day(self, t: float) -> DayInfo:
        """Return the local day containing epoch ``t``."""
        last = self._last
        if last is not None and last.midnight <= t < last.next_midnight:
            return last
        info = self.by_ordinal(datetime.fromtimestamp(t, self.zone).date().toordinal())
        self._last = info
        return info

    def local_time(self, t: float) -> datetime:
        """Return ``t`` as an aware local datetime."""
        return datetime.fromtimestamp(t, self.zone)

    def at(self, when: date, hour: int, minute: int = 0) -> float:
        """Return the epoch of local ``hour:minute`` on ``when``."""
        return datetime(
            when.year, when.month, when.day, hour, minute, tzinfo=self.zone
        ).timestamp()

    def amplitude(self, ordinal: int) -> float:
        """Return the season's share of the array's peak on day ``ordinal``."""
        day_of_year = date.fromordinal(ordinal).timetuple().tm_yday
        return 0.8 + 0.2 * math.cos(2 * math.pi * (day_of_year - 172) / 365.25)

    def clearness(self, ordinal: int) -> float:
        """Return how clear the sky is on day ``ordinal`` (1: cloudless)."""
        return 1.0 - 0.7 * float(unit(self._clear_key, ordinal) ** 2.5)

    def load_scale(self, ordinal: int) -> float:
        """Return how busy the household is on day ``ordinal``."""
        return 0.85 + 0.3 * unit(self._load_key, ordinal)

    def by_ordinal(self, ordinal: int) -> DayInfo:
        """Return the local day with proleptic Gregorian ``ordinal``."""
        info = self._days.get(ordinal)
        if info is not None:
            return info
        day = date.fromordinal(ordinal)
        # Sun times sit on the integration grid so production is exactly zero
        # outside daylight and inverter reports can tell night from day.
        sunrise = math.floor(self.at(day, SUNRISE_HOUR) / STEP_S) * STEP_S
        sunset = math.floor(self.at(day, SUNSET_HOUR) / STEP_S) * STEP_S
        info = DayInfo(
            ordinal=ordinal,
            midnight=self.at(day, 0),
            next_midnight=self.at(date.fromordinal(ordinal + 1), 0),
            sunrise=sunrise,
            sunset=sunset,
            amplitude=self.amplitude(ordinal),
            clearness=self.clearness(ordinal),
            load_scale=self.load_scale(ordinal),
        )
        self._days[ordinal] = info
        return info


def cloud_factor(clearness: float, noise: float) -> float:
    """Return how much of the clear-sky output passes the clouds."""
    if clearness > 0.97:
        cloud = 1.0 - 0.03 * noise
    else:
        cloud = 1.0 - (1.0 - clearness) * (0.4 + 1.2 * noise)
    return max(cloud, 0.08)


def _expected_cloud(clearness: float) -> float:
    """Return a day's typical cloud factor (the day's energy target uses it)."""
    return 0.985 if clearness > 0.97 else max(clearness, 0.12)


class _DayPrefix:
    """Sums of a closed-form daily total over the days from a fixed first day."""

    def __init__(self, first: int, daily: Callable[[int], float]) -> None:
        """Add up ``daily`` from day ordinal ``first``."""
        self.first = first
        self._daily = daily
        self._forward = [0.0]
        self._backward = [0.0]

    def before(self, ordinal: int) -> float:
        """Return the sum over the days from ``first`` to ``ordinal - 1`` (negative before)."""
        offset = ordinal - self.first
        daily = self._daily
        if offset >= 0:
            forward = self._forward
            while len(forward) <= offset:
                forward.append(forward[-1] + daily(self.first + len(forward) - 1))
            return forward[offset]
        backward = self._backward
        while len(backward) <= -offset:
            backward.append(backward[-1] + daily(self.first - len(backward)))
        return -backward[-offset]


@dataclass(frozen=True, slots=True)
class _SolarDay:
    """One day's scaled solar samples and the running integral over them."""

    midnight: float
    samples: array[float]
    integral: array[float]


@dataclass(frozen=True, slots=True)
class _Event:
    """An appliance switched on for a while: samples ``first`` to ``last - 1``."""

    first: int
    last: int
    power_w: float


@dataclass(frozen=True, slots=True)
class _LoadDay:
    """What one phase's load over a day is made of, and the day's scale factor."""

    midnight: float
    base_w: float
    shape_w: float
    fridge_w: float
    fridge_phase: int
    fridge_running: tuple[int, ...]
    """How many of the first n samples of a fridge period run it (n = 0..period)."""
    events: dict[int, _Event]
    """The day's appliance events by 15-minute slot (absolute slot number)."""
    points: int
    """Grid steps from this midnight to the next."""
    next_midnight_w: float
    """The load at the next midnight (the next day's first, unscaled sample)."""
    scale: float
    """Factor on every sample between the midnights; those two stay unscaled so
    the load is continuous from one day to the next."""

    def raw(self, index: int) -> float:
        """Return the unscaled load at sample ``index`` of the day (W)."""
        value = (
            self.base_w
            + self.shape_w
            * _SHAPE_EXTENDED[min(index // _SAMPLES_PER_MINUTE, _LAST_MINUTE)]
        )
        if (self.fridge_phase + _STEP * index) % FRIDGE_PERIOD_S < FRIDGE_ON_S:
            value += self.fridge_w
        event = self.events.get(int((self.midnight + STEP_S * index) // EVENT_SLOT_S))
        if event is not None and event.first <= index < event.last:
            value += event.power_w
        return value

    def sample(self, index: int) -> float:
        """Return the load at sample ``index`` of the day (W)."""
        if index == 0:
            return self.raw(0)
        if index >= self.points:
            return self.next_midnight_w
        return self.scale * self.raw(index)

    def samples(self) -> list[float]:
        """Return every sample of the day, both midnights included (W)."""
        points = self.points
        per_minute = _SAMPLES_PER_MINUTE
        minutes = points // per_minute + 1
        shape = [
            self.base_w + self.shape_w * value for value in _SHAPE_EXTENDED[:minutes]
        ]
        fridge_w = self.fridge_w
        pattern = [
            fridge_w
            if (self.fridge_phase + _STEP * index) % FRIDGE_PERIOD_S < FRIDGE_ON_S
            else 0.0
            for index in range(_FRIDGE_SAMPLES)
        ]
        values = [
            shape[index // per_minute] + pattern[index % _FRIDGE_SAMPLES]
            for index in range(points + 1)
        ]
        for event in self.events.values():
            for index in range(event.first, event.last):
                values[index] += event.power_w
        scale = self.scale
        values[1:points] = [scale * value for value in values[1:points]]
        values[points] = self.next_midnight_w
        return values

    def raw_sum(self, last: int) -> float:
        """Return the sum of the unscaled samples 1..``last``."""
        if last <= 0:
            return 0.0
        minutes, rest = divmod(last + 1, _SAMPLES_PER_MINUTE)
        shape_sum = (
            _SAMPLES_PER_MINUTE * _SHAPE_PREFIX[min(minutes, _LAST_MINUTE + 1)]
            + rest * _SHAPE_EXTENDED[min(minutes, _LAST_MINUTE)]
        )
        periods, partial = divmod(last + 1, _FRIDGE_SAMPLES)
        running = periods * self.fridge_running[-1] + self.fridge_running[partial]
        total = (last + 1) * self.base_w + self.shape_w * shape_sum
        total += self.fridge_w * running
        for event in self.events.values():
            if event.first <= last:
                total += event.power_w * (min(event.last, last + 1) - event.first)
        return total - self.raw(0)

    def integral(self, last: int) -> float:
        """Return the trapezoid integral from sample 0 to sample ``last`` (J)."""
        if last <= 0:
            return 0.0
        half = STEP_S / 2
        if last >= self.points:
            inner = STEP_S * self.scale * self.raw_sum(self.points - 1)
            return half * (self.raw(0) + self.next_midnight_w) + inner
        inner = STEP_S * self.scale * self.raw_sum(last)
        return half * (self.raw(0) - self.sample(last)) + inner


class SiteCurves:
    """The site's sun (as a fraction of the array's peak) and household load per phase."""

    def __init__(self, profile: Profile, seed: int, calendar: LocalCalendar) -> None:
        """Play ``profile``'s weather and household with ``seed``."""
        self.profile = profile
        self.calendar = calendar
        phases = profile.phase_count
        self.phases = phases
        self.load_weights = {1: [1.0], 2: [0.55, 0.45], 3: [0.42, 0.33, 0.25]}[phases]
        self._cloud_key = stream_key(seed, "cloud")
        self._event_keys = [
            tuple(stream_key(seed, "event", phase, part) for part in range(4))
            for phase in range(phases)
        ]
        self.fridge_offsets = [
            int(unit(stream_key(seed, "fridge"), p) * FRIDGE_PERIOD_S)
            for p in range(phases)
        ]
        # Energy counts from the midnight before installation: counters are
        # the site's whole history, the same whenever a simulator starts.
        self.first_ordinal = datetime.fromtimestamp(
            profile.installed_epoch, calendar.zone
        ).toordinal()
        self._solar_prefix = _DayPrefix(self.first_ordinal, self.solar_target)
        self._scale_prefix = _DayPrefix(self.first_ordinal, calendar.load_scale)
        self._solar_days: OrderedDict[int, _SolarDay] = OrderedDict()
        self._last_solar: tuple[int, _SolarDay] | None = None
        self._load_days: OrderedDict[tuple[int, int], _LoadDay] = OrderedDict()
        self._event_slots: dict[tuple[int, int], tuple[float, float, float]] = {}
        self._fine: OrderedDict[int, tuple[array[float], list[list[float]]]] = (
            OrderedDict()
        )

    # -- solar ----------------------------------------------------------------

    def coarse_powers(self, t: float, day: DayInfo) -> tuple[float, list[float]]:
        """Return a typical solar fraction and phase loads at ``t`` (no clouds, no appliances).

        The coarse prehistory only warms the battery up, so it needs neither
        the scaled curves nor their noise.
        """
        if t <= day.sunrise or t >= day.sunset:
            fraction = 0.0
        else:
            progress = (t - day.sunrise) / (day.sunset - day.sunrise)
            fraction = (
                day.amplitude
                * float(math.sin(math.pi * progress) ** 1.3)
                * cloud_factor(day.clearness, 0.5)
            )
        profile = self.profile
        shape = minute_shape(int((t - day.midnight) // 60))
        fridge = FRIDGE_W * FRIDGE_ON_S / FRIDGE_PERIOD_S
        events = (
            (0.1 + 0.35 * shape) * _EVENT_MEAN_FACTOR * _EVENT_MEAN_S / EVENT_SLOT_S
        )
        house = (
            profile.base_load_w
            + fridge
            + profile.variable_load_w * (0.45 * day.load_scale * shape + events)
        )
        return fraction, [weight * house for weight in self.load_weights]

    def solar_target(self, ordinal: int) -> float:
        """Return day ``ordinal``'s solar energy in peak-fraction seconds."""
        span = (SUNSET_HOUR - SUNRISE_HOUR) * 3600.0
        return (
            self.calendar.amplitude(ordinal)
            * _expected_cloud(self.calendar.clearness(ordinal))
            * span
            * _BELL_MEAN
        )

    def _solar_day(self, day: DayInfo) -> _SolarDay:
        """Return the day's scaled solar samples (built on first use)."""
        recent = self._last_solar
        if recent is not None and recent[0] == day.ordinal:
            return recent[1]
        cached = self._solar_days.get(day.ordinal)
        if cached is not None:
            self._solar_days.move_to_end(day.ordinal)
            self._last_solar = (day.ordinal, cached)
            return cached
        points = round((day.next_midnight - day.midnight) / STEP_S)
        raw = [0.0] * (points + 1)
        first = round((day.sunrise - day.midnight) / STEP_S) + 1
        last = round((day.sunset - day.midnight) / STEP_S)
        span = day.sunset - day.sunrise
        knots: dict[int, float] = {}
        key = self._cloud_key
        for index in range(first, last):
            t = day.midnight + index * STEP_S
            position = t / CLOUD_KNOT_S
            knot = int(position // 1)
            left = knots.get(knot)
            if left is None:
                left = knots[knot] = unit(key, knot)
            right = knots.get(knot + 1)
            if right is None:
                right = knots[knot + 1] = unit(key, knot + 1)
            fraction = position - knot
            fraction = fraction * fraction * (3.0 - 2.0 * fraction)
            noise = left + (right - left) * fraction
            bell = float(math.sin(math.pi * (t - day.sunrise) / span) ** 1.3)
            raw[index] = bell * cloud_factor(day.clearness, noise)
        total = STEP_S * sum(raw)
        scale = self.solar_target(day.ordinal) / total
        samples = array("d", (value * scale for value in raw))
        built = _SolarDay(day.midnight, samples, _running_integral(samples))
        self._solar_days[day.ordinal] = built
        self._last_solar = (day.ordinal, built)
        if len(self._solar_days) > _CACHED_DAYS:
            self._solar_days.popitem(last=False)
        return built

    def solar_power(self, t: float) -> float:
        """Return the solar fraction (of the array's peak) at ``t``."""
        day = self.calendar.day(t)
        if t <= day.sunrise or t >= day.sunset:
            return 0.0
        built = self._solar_day(day)
        offset = (t - built.midnight) / STEP_S
        index = int(offset)
        fraction = offset - index
        samples = built.samples
        left = samples[index]
        return left + (samples[index + 1] - left) * fraction

    def solar_value(self, t: float) -> float:
        """Return the solar energy since the first day in peak-fraction seconds."""
        day = self.calendar.day(t)
        before = self._solar_prefix.before(day.ordinal)
        if t <= day.sunrise:
            return before
        if t >= day.sunset:
            return before + self.solar_target(day.ordinal)
        built = self._solar_day(day)
        return before + _interpolated_integral(
            built.samples, built.integral, (t - built.midnight) / STEP_S
        )

    def solar_between(self, start: float, end: float) -> float:
        """Return the solar energy over ``(start, end]`` in peak-fraction seconds."""
        day = self.calendar.day(end)
        if start < day.midnight:
            return self.solar_value(end) - self.solar_value(start)
        return self._within_day(day, end) - self._within_day(day, start)

    def _within_day(self, day: DayInfo, t: float) -> float:
        """Return the solar energy from ``day``'s midnight to ``t`` (same day)."""
        if t <= day.sunrise:
            return 0.0
        if t >= day.sunset:
            return self.solar_target(day.ordinal)
        built = self._solar_day(day)
        return _interpolated_integral(
            built.samples, built.integral, (t - built.midnight) / STEP_S
        )

    # -- night ----------------------------------------------------------------

    def night_power(self, t: float) -> float:
        """Return 1 while the sun is down, 0 while up (interpolated on the grid)."""
        day = self.calendar.day(t)
        if t <= day.sunrise or t >= day.sunset:
            return 1.0
        if t < day.sunrise + STEP_S:
            return 1.0 - (t - day.sunrise) / STEP_S
        if t > day.sunset - STEP_S:
            return (t - (day.sunset - STEP_S)) / STEP_S
        return 0.0

    def night_value(self, t: float) -> float:
        """Return the seconds of night since the first day's midnight."""
        day = self.calendar.day(t)
        first = self.calendar.by_ordinal(self.first_ordinal)
        # Every day's night is its length less the daylight, plus the two
        # half steps the grid's linear interpolation adds at dawn and dusk.
        daylight = day.sunset - day.sunrise - STEP_S
        before = (day.midnight - first.midnight) - (
            day.ordinal - self.first_ordinal
        ) * daylight
        if t <= day.sunrise:
            return before + (t - day.midnight)
        dawn = day.sunrise - day.midnight
        if t < day.sunrise + STEP_S:
            step = (t - day.sunrise) / STEP_S
            return before + dawn + STEP_S * (step - step * step / 2)
        if t <= day.sunset - STEP_S:
            return before + dawn + STEP_S / 2
        if t < day.sunset:
            step = (t - (day.sunset - STEP_S)) / STEP_S
            return before + dawn + STEP_S / 2 + STEP_S * step * step / 2
        return before + dawn + STEP_S + (t - day.sunset)

    # -- household load -------------------------------------------------------

    def _event(self, phase: int, slot: int) -> tuple[float, float, float]:
        """Return (power W unweighted share, start s, end s) of a slot's event; power 0: none."""
        cached = self._event_slots.get((phase, slot))
        if cached is not None:
            return cached
        keys = self._event_keys[phase]
        start_t = slot * EVENT_SLOT_S
        day = self.calendar.day(start_t)
        shape = minute_shape(int((start_t - day.midnight) // 60))
        power = 0.0
        if unit(keys[0], slot) < 0.1 + 0.35 * shape:
            power = self.profile.variable_load_w * (0.3 + 0.7 * unit(keys[1], slot))
        start = unit(keys[2], slot) * 500.0
        event = (power, start, start + 60.0 + 340.0 * unit(keys[3], slot))
        if len(self._event_slots) > 20000:
            self._event_slots.clear()
        self._event_slots[phase, slot] = event
        return event

    def load_target(self, phase: int, ordinal: int) -> float:
        """Return day ``ordinal``'s energy of one phase's load in J (W*s)."""
        return self._load_constant(phase) + self._load_variable(phase) * (
            self.calendar.load_scale(ordinal)
        )

    def _load_constant(self, phase: int) -> float:
        """Return the part of a day's load energy that is the same every day (J)."""
        profile = self.profile
        weight = self.load_weights[phase]
        fridge = FRIDGE_W * FRIDGE_ON_S / FRIDGE_PERIOD_S
        events = (
            _EVENT_CHANCE_PER_DAY
            * profile.variable_load_w
            * _EVENT_MEAN_FACTOR
            * _EVENT_MEAN_S
        )
        return weight * ((profile.base_load_w + fridge) * _DAY_S + events)

    def _load_variable(self, phase: int) -> float:
        """Return the part of a day's load energy that scales with the day's load level."""
        return (
            self.load_weights[phase]
            * self.profile.variable_load_w
            * 0.45
            * 60.0
            * _SHAPE_PREFIX[1440]
        )

    def _load_day(self, phase: int, day: DayInfo) -> _LoadDay:
        """Return what one phase's load over ``day`` is made of (built on first use)."""
        cached = self._load_days.get((phase, day.ordinal))
        if cached is not None:
            return cached
        weight = self.load_weights[phase]
        base_w, shape_w, fridge_w, fridge_phase = self._load_parts(phase, day)
        running = [0]
        for index in range(_FRIDGE_SAMPLES):
            on = (fridge_phase + _STEP * index) % FRIDGE_PERIOD_S < FRIDGE_ON_S
            running.append(running[-1] + on)
        points = round((day.next_midnight - day.midnight) / STEP_S)
        events: dict[int, _Event] = {}
        # The slot of the next midnight too: the day's last sample lies in it.
        for slot in range(
            int(day.midnight // EVENT_SLOT_S),
            int(day.next_midnight // EVENT_SLOT_S) + 1,
        ):
            power, start, end = self._event(phase, slot)
            if power <= 0.0:
                continue
            origin = slot * EVENT_SLOT_S - day.midnight
            first = max(0, math.ceil((origin + start) / STEP_S))
            last = min(points + 1, math.ceil((origin + end) / STEP_S))
            if last > first:
                events[slot] = _Event(first, last, weight * power)
        unscaled = _LoadDay(
            midnight=day.midnight,
            base_w=base_w,
            shape_w=shape_w,
            fridge_w=fridge_w,
            fridge_phase=fridge_phase,
            fridge_running=tuple(running),
            events=events,
            points=points,
            next_midnight_w=0.0,
            scale=1.0,
        )
        after = self._load_at_midnight(phase, day.ordinal + 1)
        ends = STEP_S / 2 * (unscaled.raw(0) + after)
        inner = STEP_S * unscaled.raw_sum(points - 1)
        built = replace(
            unscaled,
            next_midnight_w=after,
            scale=(self.load_target(phase, day.ordinal) - ends) / inner,
        )
        self._load_days[phase, day.ordinal] = built
        if len(self._load_days) > _CACHED_DAYS * self.phases:
            self._load_days.popitem(last=False)
        return built

    def _load_parts(self, phase: int, day: DayInfo) -> tuple[float, float, float, int]:
        """Return one phase's base, shape and fridge power on ``day`` and the fridge's phase."""
        profile = self.profile
        weight = self.load_weights[phase]
        return (
            weight * profile.base_load_w,
            weight * profile.variable_load_w * 0.45 * day.load_scale,
            weight * FRIDGE_W,
            int(day.midnight + self.fridge_offsets[phase]) % FRIDGE_PERIOD_S,
        )

    def _load_at_midnight(self, phase: int, ordinal: int) -> float:
        """Return the unscaled load at the midnight starting day ``ordinal`` (W)."""
        day = self.calendar.by_ordinal(ordinal)
        base_w, shape_w, fridge_w, fridge_phase = self._load_parts(phase, day)
        # The same sum, in the same order, as that day's own first sample.
        value = base_w + shape_w * _SHAPE_EXTENDED[0]
        if fridge_phase % FRIDGE_PERIOD_S < FRIDGE_ON_S:
            value += fridge_w
        power, start, _end = self._event(phase, int(day.midnight // EVENT_SLOT_S))
        if power > 0.0 and math.ceil(start / STEP_S) == 0:
            value += self.load_weights[phase] * power
        return value

    def day_samples(self, day: DayInfo) -> tuple[array[float], list[list[float]]]:
        """Return the day's solar samples and every phase's load samples (W), midnights included."""
        built = self._fine.get(day.ordinal)
        if built is None:
            solar = self._solar_day(day).samples
            loads = [
                self._load_day(phase, day).samples() for phase in range(self.phases)
            ]
            built = (solar, loads)
            self._fine[day.ordinal] = built
            if len(self._fine) > 2:
                self._fine.popitem(last=False)
        return built

    def load_power(self, phase: int, t: float) -> float:
        """Return one phase's household load at ``t`` in W (scaled, interpolated)."""
        built = self._load_day(phase, self.calendar.day(t))
        offset = (t - built.midnight) / STEP_S
        index = int(offset)
        fraction = offset - index
        left = built.sample(index)
        if fraction == 0.0:
            return left
        return left + (built.sample(index + 1) - left) * fraction

    def load_value(self, phase: int, t: float) -> float:
        """Return one phase's household energy since the first day's midnight in J."""
        day = self.calendar.day(t)
        days = day.ordinal - self.first_ordinal
        before = self._load_constant(phase) * days + self._load_variable(
            phase
        ) * self._scale_prefix.before(day.ordinal)
        built = self._load_day(phase, day)
        offset = (t - built.midnight) / STEP_S
        index = int(offset)
        fraction = offset - index
        within = built.integral(index)
        if fraction:
            left = built.sample(index)
            right = built.sample(index + 1)
            within += STEP_S * fraction * (left + (right - left) * fraction / 2)
        return before + within


# The mean of sin(pi x) ** 1.3 over [0, 1] on the 10 s grid of a 14-hour day.
_BELL_MEAN = (
    sum(float(math.sin(math.pi * k / 5040) ** 1.3) for k in range(1, 5040)) / 5040
)


def _running_integral(samples: array[float]) -> array[float]:
    """Return the trapezoid integral from the first sample to each sample (W*s)."""
    half = STEP_S / 2
    steps = (half * (a + b) for a, b in pairwise(samples))
    return array("d", accumulate(steps, initial=0.0))


def _interpolated_integral(
    samples: array[float], integral: array[float], offset: float
) -> float:
    """Return the integral up to ``offset`` grid steps into the samples."""
    index = int(offset)
    fraction = offset - index
    if fraction == 0.0:
        return integral[index]
    left = samples[index]
    return integral[index] + STEP_S * fraction * (
        left + (samples[index + 1] - left) * fraction / 2
    )
