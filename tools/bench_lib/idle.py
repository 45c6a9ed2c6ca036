"""Idle-connection test: N client connections held open at once on a proxy, its RSS per
connection, then every connection must still answer `SELECT 1`.

A compact asyncio client of the PostgreSQL protocol (startup, md5/cleartext/trust, simple query),
so that 10,000 connections cost this process little and need no extra packages. With an SSL context
(--tls) each connection first sends SSLRequest and, answered `S`, runs the TLS handshake (sslmode=require:
no certificate check), as libpq does.
"""
import asyncio
import hashlib
import ssl
import struct
import time

from .poolers import DATABASE, PASSWORD, USER
from .procs import log


class PgError(Exception):
    pass


def _startup_packet():
    params = b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                      for k, v in (("user", USER), ("database", DATABASE)))
    body = struct.pack("!I", 196608) + params + b"\0"
    return struct.pack("!I", len(body) + 4) + body


SSL_REQUEST = struct.pack("!II", 8, 80877103)


def client_ssl_context():
    """What libpq's sslmode=require does: encrypt, trust any certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _message(tag, payload):
    return tag + struct.pack("!I", len(payload) + 4) + payload


async def _read_message(reader):
    head = await reader.readexactly(5)
    tag, length = head[:1], struct.unpack("!I", head[1:])[0]
    return tag, await reader.readexactly(length - 4)


def _error_text(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[part[:1]] = part[1:].decode(errors="replace")
    return f"{fields.get(b'C', '?')}: {fields.get(b'M', '?')}"


class IdleClient:
    def __init__(self, port, ssl_context=None):
        self.port, self.ssl_context = port, ssl_context
        self.reader = self.writer = None

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        if self.ssl_context is not None:
            self.writer.write(SSL_REQUEST)
            answer = await self.reader.readexactly(1)
            if answer == b"E":   # refused before TLS (e.g. too many connections logging in)
                (length,) = struct.unpack("!I", await self.reader.readexactly(4))
                raise PgError(_error_text(await self.reader.readexactly(length - 4)))
            if answer != b"S":
                raise PgError(f"SSLRequest answered {answer!r}, not S")
            await self.writer.start_tls(self.ssl_context)
        self.writer.write(_startup_packet())
        while True:
            tag, payload = await _read_message(self.reader)
            if tag == b"R":
                code = struct.unpack("!I", payload[:4])[0]
                if code == 5:   # md5: md5(md5(password + user) + salt)
                    inner = hashlib.md5((PASSWORD + USER).encode()).hexdigest()
                    digest = "md5" + hashlib.md5(inner.encode() + payload[4:8]).hexdigest()
                    self.writer.write(_message(b"p", digest.encode() + b"\0"))
                elif code == 3:
                    self.writer.write(_message(b"p", PASSWORD.encode() + b"\0"))
                elif code != 0:
                    raise PgError(f"unsupported authentication request {code}")
            elif tag == b"E":
                raise PgError(_error_text(payload))
            elif tag == b"Z":
                return

    async def select_one(self):
        self.writer.write(_message(b"Q", b"SELECT 1\0"))
        value, error = None, None
        while True:
            tag, payload = await _read_message(self.reader)
            if tag == b"D":
                (n,) = struct.unpack("!H", payload[:2])
                if n == 1:
                    (length,) = struct.unpack("!i", payload[2:6])
                    value = payload[6:6 + length]
            elif tag == b"E":
                error = _error_text(payload)
            elif tag == b"Z":
                if error:
                    raise PgError(error)
                if value != b"1":
                    raise PgError(f"SELECT 1 returned {value!r}")
                return

    def close(self):
        if self.writer is not None:
            try:
                self.writer.write(_message(b"X", b""))
            except Exception:
                pass
            self.writer.close()


async def _run(port, count, stat, concurrency, ssl_context):
    gate = asyncio.Semaphore(concurrency)
    clients = [IdleClient(port, ssl_context) for _ in range(count)]
    errors = []

    async def guarded(coro_fn, client):
        async with gate:
            try:
                await asyncio.wait_for(coro_fn(client), timeout=60)
                return True
            except Exception as e:   # noqa: BLE001 — every failure is counted and reported
                if len(errors) < 5:
                    errors.append(f"{type(e).__name__}: {e}")
                return False

    # Baseline: one connection and one query, so pools and caches exist before we measure.
    warm = IdleClient(port, ssl_context)
    await warm.connect()
    await warm.select_one()
    rss_before = stat.rss_bytes()
    t0 = time.monotonic()
    connected = await asyncio.gather(*(guarded(IdleClient.connect, c) for c in clients))
    connect_s = time.monotonic() - t0
    rss_held = stat.rss_bytes()
    n_connected = sum(connected)
    log(f"idle test: {n_connected}/{count} connected in {connect_s:.1f} s; proxy RSS "
        f"{rss_before / 2**20:.1f} -> {rss_held / 2**20:.1f} MiB")
    live = [c for c, ok in zip(clients, connected) if ok]
    t0 = time.monotonic()
    answered = await asyncio.gather(*(guarded(IdleClient.select_one, c) for c in live))
    query_s = time.monotonic() - t0
    rss_after_queries = stat.rss_bytes()
    for c in clients:
        c.close()
    warm.close()
    await asyncio.sleep(0)
    return {
        "connections": count, "connected": n_connected, "answered": sum(answered),
        "connect_s": connect_s, "query_s": query_s,
        "rss_before": rss_before, "rss_held": rss_held, "rss_after_queries": rss_after_queries,
        "rss_per_conn": (rss_held - rss_before) / max(1, n_connected),
        "errors": errors,
    }


def run_idle_test(port, count, stat, concurrency=200, tls=False):
    """tls: connect as libpq's sslmode=require does (the proxy must answer SSLRequest with S)."""
    return asyncio.run(_run(port, count, stat, concurrency, client_ssl_context() if tls else None))
