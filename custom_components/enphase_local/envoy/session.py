"""An injected or self-made aiohttp session, shared by the gateway and cloud clients."""

from types import TracebackType
from typing import Self

import aiohttp


class SessionOwner:
    """Use the caller's session, or make one on first use and close it at the end."""

    def __init__(self, session: aiohttp.ClientSession | None) -> None:
        """Keep the injected session; None means we make (and close) our own."""
        self._session = session
        self._owns_session = session is None

    def _new_session(self) -> aiohttp.ClientSession:
        """Return a new session for when none was injected."""
        return aiohttp.ClientSession()

    def _get_session(self) -> aiohttp.ClientSession:
        """Return the session, creating our own on first use."""
        if self._session is None:
            self._session = self._new_session()
        return self._session

    async def close(self) -> None:
        """Close the session if it is ours."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        """Enter ``async with``."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close our session on leaving ``async with``."""
        await self.close()
