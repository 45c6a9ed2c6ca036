"""--tls: the poolers with client TLS (issue 19), one certificate for both, and how the run shows it was TLS.

PgBouncer (`client_tls_sslmode = require`) and pgroute (`tls: {mode: require}`) get the same server
certificate, issued by a throwaway CA for localhost and 127.0.0.1; pgbench and psql reach them with
`sslmode=require`. Both refuse a plaintext login, so every pgbench transaction counted through them went
over TLS; `verify` also watches it happen (each proxy's SHOW CLIENTS during a pgbench run) and records
the version and cipher each proxy negotiated. PostgreSQL itself (`direct`, and `haproxy`, which forwards
bytes to it) stays plaintext: it has `ssl = off`.
"""
import os
import re
import subprocess

from .poolers import ADMIN_PASSWORD, ADMIN_USER, DATABASE, PASSWORD, USER
from .procs import BenchError, chown_to_pg, log, run

# The targets that terminate client TLS in a --tls run.
TLS_TARGETS = ("floor-tls", "pgbouncer", "pgroute-routed", "pgroute-plain", "pgroute-baseline")
PSQL = "/usr/lib/postgresql/15/bin/psql"
SERVER_NAMES = "DNS:localhost,IP:127.0.0.1"


class Certificates:
    """A CA and a server certificate made with the openssl CLI in `dir`: keys 0600, the server's pair
    owned by `postgres` (PgBouncer runs as it; pgroute runs as us, and root reads it anyway)."""

    def __init__(self, work_dir):
        self.dir = os.path.join(work_dir, "tls")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.ca_cert, self.ca_key = (os.path.join(self.dir, n) for n in ("ca.crt", "ca.key"))
        self.cert, self.key = (os.path.join(self.dir, n) for n in ("server.crt", "server.key"))

    def make(self):
        def openssl(*args):
            run(["openssl", *args])

        openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key, "-out", self.ca_cert,
                "-days", "7", "-subj", "/CN=pgroute-bench-ca", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        csr, ext = os.path.join(self.dir, "server.csr"), os.path.join(self.dir, "server.ext")
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", csr,
                "-subj", "/CN=localhost")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    f"extendedKeyUsage=serverAuth\nsubjectAltName={SERVER_NAMES}\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key, "-set_serial", "1",
                "-days", "7", "-extfile", ext, "-out", self.cert)
        for path in (csr, ext):
            os.unlink(path)
        for key in (self.ca_key, self.key):
            os.chmod(key, 0o600)
        for path in (self.cert, self.key):
            chown_to_pg(path)
        log(f"TLS: server certificate for {SERVER_NAMES} (RSA 2048) in {self.dir}")
        return self

    def describe(self):
        return f"one server certificate for both poolers (RSA 2048, {SERVER_NAMES}, signed by a throwaway CA)"


def _psql(port, sql, sslmode, user, password, db):
    env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(port), PGUSER=user, PGPASSWORD=password,
               PGDATABASE=db, PGSSLMODE=sslmode, PGCONNECT_TIMEOUT="10")
    env.pop("PGSERVICE", None)
    return subprocess.run([PSQL, "-X", "-A", "-F", "\t", "-c", sql], capture_output=True, text=True, env=env,
                          timeout=30)


def conninfo(port):
    """The TLS version and cipher psql negotiates with sslmode=require (`\\conninfo`), or why not."""
    p = _psql(port, "\\conninfo", "require", USER, PASSWORD, DATABASE)
    m = re.search(r"SSL connection \(protocol: ([^,]+), cipher: ([^,)]+)", p.stdout)
    if p.returncode != 0 or not m:
        raise BenchError(f"psql sslmode=require \\conninfo on port {port}: {(p.stderr or p.stdout).strip()}")
    return f"{m.group(1)} {m.group(2)}"


def plaintext_refusal(port):
    """The error a plaintext login (sslmode=disable) gets; BenchError if it is let in."""
    p = _psql(port, "SELECT 1", "disable", USER, PASSWORD, DATABASE)
    if p.returncode == 0:
        raise BenchError(f"port {port} let a plaintext client in: client TLS is not required")
    lines = p.stderr.strip().splitlines() or ["refused"]
    fatal = [line.split("FATAL:", 1)[1].strip() for line in lines if "FATAL:" in line]
    return (fatal[0] if fatal else lines[-1].replace("psql: error: ", ""))[:200]


def show_clients(port, console_db):
    """[(user, tls)] of the pooler's clients, from its admin console over TLS."""
    p = _psql(port, "SHOW CLIENTS", "require", ADMIN_USER, ADMIN_PASSWORD, console_db)
    lines = p.stdout.splitlines()
    if p.returncode != 0 or not lines:
        raise BenchError(f"SHOW CLIENTS on port {port}: {(p.stderr or p.stdout).strip()}")
    header = lines[0].split("\t")
    if "user" not in header or "tls" not in header:
        raise BenchError(f"SHOW CLIENTS on port {port} has no user/tls column: {lines[0]}")
    u, t = header.index("user"), header.index("tls")
    rows = [line.split("\t") for line in lines[1:] if "\t" in line]
    return [(r[u], r[t]) for r in rows if len(r) == len(header)]


def summarize_clients(clients, expected):
    """'16 of 16 pgbench connections TLS (TLSv1.3/TLS_AES_256_GCM_SHA384...)' and whether all were."""
    bench = [tls for user, tls in clients if user == USER]
    with_tls = [tls for tls in bench if tls.strip()]
    kinds = sorted(set(with_tls))
    ok = len(bench) >= expected and len(with_tls) == len(bench)
    return ok, (f"{len(with_tls)} of {len(bench)} `{USER}` connections TLS while pgbench ran {expected} clients"
                + (f" (SHOW CLIENTS `tls`: {', '.join(kinds)})" if kinds else ""))

