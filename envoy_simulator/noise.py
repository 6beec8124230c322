"""Deterministic pseudo-random numbers addressed by index, not by call order."""

_MASK64 = (1 << 64) - 1
_TWO64 = float(1 << 64)


def mix64(value: int) -> int:
    """Scramble a 64-bit integer (splitmix64 finaliser)."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def stream_key(seed: int, *names: str | int) -> int:
    """Return a 64-bit key for an independent random stream."""
    key = mix64(seed & _MASK64)
    for name in names:
        part = (
            name
            if isinstance(name, int)
            else int.from_bytes(name.encode()[:16], "little")
        )
        key = mix64(key ^ (part & _MASK64))
    return key


def unit(key: int, index: int) -> float:
    """Return a value in [0, 1) for ``index`` of the stream ``key``."""
    # Random access (rather than a stateful generator) keeps every value a pure
    # function of seed and time, whatever order requests arrive in.
    return mix64(key ^ (index & _MASK64)) / _TWO64


def smooth_noise(key: int, position: float) -> float:
    """Return smooth value noise in [0, 1) with one knot per unit of ``position``."""
    knot = int(position // 1)
    fraction = position - knot
    fraction = fraction * fraction * (3.0 - 2.0 * fraction)
    left = unit(key, knot)
    return left + (unit(key, knot + 1) - left) * fraction
