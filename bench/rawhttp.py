"""A small asyncio HTTP/1.1 client for the load generators.

The load generator shares the machine's two cores with gunicorn and PostgreSQL,
so every millisecond it spends on a request is taken from the server being
measured, and a general-purpose client such as httpx spends several times
what the server does on a request. This client writes the request bytes and
parses the status line, the headers and a ``Content-Length`` (or chunked) body,
and nothing more. It speaks only to the benchmark's own gunicorn on loopback:
plain HTTP, no redirects followed, no cookie jar (callers pass ``Cookie``).

Connections are kept alive when the server allows it (gunicorn's gthread
workers do; its sync workers close after every response) and reopened otherwise.
"""

import asyncio
from urllib.parse import urlencode, urlsplit


class HTTPError(Exception):
    """The connection failed or the response could not be read."""


class _ClosedUnanswered(Exception):
    """The server closed the connection without a byte of an answer."""


class Response:
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code, headers, content):
        self.status_code = status_code
        self.headers = headers  # lower-case name -> list of values
        self.content = content

    def header(self, name, default=""):
        values = self.headers.get(name)
        return values[0] if values else default

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def cookie(self, name):
        """The value a ``Set-Cookie`` header gives ``name``, or None."""
        for value in self.headers.get("set-cookie", ()):
            key, _, rest = value.partition("=")
            if key.strip() == name:
                return rest.split(";", 1)[0]
        return None


class Client:
    """Connections to one ``http://host:port``, reused while the server allows.

    As many connections as requests in flight: callers bound those (a semaphore).
    """

    def __init__(self, base, *, timeout=30.0):
        self.base = base
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.host_header = f"{self.host}:{self.port}".encode()
        self.timeout = timeout
        self._idle = []

    async def close(self):
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def get(self, path, headers=None):
        return await self.request("GET", path, headers=headers)

    async def post(self, path, data, headers=None):
        body = urlencode(data).encode()
        headers = {**(headers or {}), "Content-Type": "application/x-www-form-urlencoded"}
        return await self.request("POST", path, body=body, headers=headers)

    async def request(self, method, path, *, body=b"", headers=None):
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self.host_header]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}".encode())
        if body or method == "POST":
            head.append(b"Content-Length: %d" % len(body))
        payload = b"\r\n".join(head) + b"\r\n\r\n" + body
        try:
            if self._idle:
                connection = self._idle.pop()
                try:
                    return await self._exchange(connection, payload, method)
                except _ClosedUnanswered:
                    # gunicorn closed the kept-alive connection meanwhile (its
                    # keepalive is 5 s) before reading the request: send it again
                    # on a new one. Any other failure is not retried, as the
                    # request (an order) may have been carried out.
                    pass
            connection = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
            return await self._exchange(connection, payload, method)
        except (OSError, asyncio.IncompleteReadError, _ClosedUnanswered) as error:
            raise HTTPError(f"{method} {path}: {type(error).__name__}") from error

    async def _exchange(self, connection, payload, method):
        try:
            return await asyncio.wait_for(self._read(connection, payload, method), self.timeout)
        except BaseException:
            connection[1].close()
            raise

    async def _read(self, connection, payload, method):
        reader, writer = connection
        writer.write(payload)
        try:
            status_line = await reader.readuntil(b"\r\n")
        except (ConnectionResetError, BrokenPipeError) as error:
            raise _ClosedUnanswered from error
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise
            raise _ClosedUnanswered from error
        status = int(status_line.split(b" ", 2)[1])
        headers = {}
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        if method == "HEAD" or status in (204, 304) or status < 200:
            content = b""
        elif "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"][0]))
        elif "chunked" in headers.get("transfer-encoding", [""])[0]:
            content = await _read_chunked(reader)
        else:
            content = await reader.read()
            headers["connection"] = ["close"]
        if "close" in headers.get("connection", [""])[0].lower():
            writer.close()
        else:
            self._idle.append(connection)
        return Response(status, headers, content)


async def _read_chunked(reader):
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
