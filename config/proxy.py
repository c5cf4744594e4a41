"""The client's address as the trusted proxy in front of the app servers saw it."""


def client_address(request) -> str:
    """The last address in ``X-Forwarded-For`` (the one the trusted proxy appended),
    or the connection's own address when the header is missing.

    Only for ``SEATKEEPER_TRUSTED_PROXY=1``: addresses before the last one are
    whatever the client chose to send.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-1] if hops else request.META["REMOTE_ADDR"]
