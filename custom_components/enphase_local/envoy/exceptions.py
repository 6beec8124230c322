"""Exceptions raised by the Envoy client: one base class, a few clear kinds."""


class EnvoyError(Exception):
    """Base class for everything the client raises."""

    def __init__(
        self, message: str, *, endpoint: str | None = None, status: int | None = None
    ) -> None:
        """Keep the endpoint (and HTTP status, if any) of the failed request."""
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        """The HTTP status the gateway answered; None when it did not answer."""

    @property
    def answered(self) -> bool:
        """Return True when the gateway answered (the error is in what it said)."""
        return self.status is not None or not isinstance(self, EnvoyConnectionError)


class EnvoyConnectionError(EnvoyError):
    """The gateway could not be reached or dropped the connection."""


class EnvoyTimeoutError(EnvoyConnectionError):
    """The gateway accepted the request but did not answer in time."""


class EnvoyRedirectError(EnvoyConnectionError):
    """The gateway redirected a plain HTTP request: it wants HTTPS now (fw >= 7)."""


class EnvoyNotReadyError(EnvoyConnectionError):
    """The gateway answered that it is not ready yet (503, boot-time zeros)."""


class EnvoyAuthenticationError(EnvoyError):
    """The gateway rejected our credentials or token (401/403)."""


class EnvoyEndpointMissingError(EnvoyError):
    """This gateway does not have the endpoint (404, HTML page, {"error"} body)."""


class EnvoyDataError(EnvoyError):
    """The gateway answered with data we cannot use."""


class EnvoyTokenError(EnvoyError):
    """A token is unusable: not a JWT, expired, or for another gateway."""


class EnlightenError(EnvoyError):
    """The Enphase cloud could not be reached or answered unexpectedly."""


class EnlightenAuthenticationError(EnlightenError):
    """The Enphase cloud rejected the e-mail address or password."""


class EnlightenMultiFactorError(EnlightenError):
    """The account uses multi-factor login: a token must be pasted by hand."""
