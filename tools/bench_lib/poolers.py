"""The proxies under test, each a child process with a generated configuration.

The two poolers (PgBouncer, pgroute) pool `pool_size` server connections per (database, user) in
transaction mode, authenticate clients with md5 against the same user/password, and reach PostgreSQL
over TCP as `bench` (trust). HAProxy is the reference hop: TCP mode, one thread, bytes forwarded and
nothing else, so no pooling (one PostgreSQL connection per client) and PostgreSQL authenticates.
With --tls, the poolers require client TLS with one certificate (see tls.py) and get a console user.
"""
import os
import subprocess

from .procs import BenchError, ProcStat, chown_to_pg, free_port, log, pg_user_kwargs, run, wait_for_port

USER, PASSWORD, DATABASE = "bench", "benchpw", "bench"
# With --tls, a console user of each pooler (SHOW CLIENTS shows each client's TLS); pgbench's user stays ordinary.
ADMIN_USER, ADMIN_PASSWORD = "benchadmin", "benchadminpw"
# Aliases only the routed configuration's routers send to (the pgbench tables stay on `default`).
ROUTED_DATABASES = {"users": "bench_users", "shard_0": "bench_shard_0", "shard_1": "bench_shard_1"}
MODEL_PATTERN, MODEL_ALIAS = "bench_users_*", "users"
SHARD_TABLE, SHARD_KEY = "bench_events", "user_id"


class Pooler:
    """A running proxy: its port, the process (for /proc) and its log."""

    name = "?"
    port = 0
    log_file = ""
    proc = None

    def stat(self):
        return ProcStat(self.proc.pid)

    def log_tail(self, lines=40):
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _start(self, cmd, cleanup, **kwargs):
        out = open(self.log_file, "ab")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, **kwargs)
        out.close()
        cleanup.add_process(f"stop {self.name}", self.proc)
        try:
            wait_for_port(self.port, self.proc, what=self.name)
        except BenchError as e:
            raise BenchError(f"{e}\n--- {self.log_file} ---\n{self.log_tail()}") from None
        log(f"{self.name} on 127.0.0.1:{self.port} (pid {self.proc.pid})")


class PgBouncer(Pooler):
    console_db = "pgbouncer"

    def __init__(self, work_dir, pg_port, pool_size, max_clients, name="pgbouncer", tls=None):
        self.name, self.tls = name, tls   # tls: a tls.Certificates for client TLS (required), or None
        self.dir = os.path.join(work_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        chown_to_pg(self.dir)
        self.port = free_port()
        self.log_file = os.path.join(self.dir, "pgbouncer.log")
        self.pg_port, self.pool_size, self.max_clients = pg_port, pool_size, max_clients

    @staticmethod
    def version():
        p = run(["pgbouncer", "--version"], check=False)
        first = (p.stdout or p.stderr).splitlines()
        return first[0].strip() if first else "pgbouncer (unknown version)"

    def start(self, cleanup):
        auth_file = os.path.join(self.dir, "userlist.txt")
        with open(auth_file, "w") as f:
            f.write(f'"{USER}" "{PASSWORD}"\n')
            if self.tls:
                f.write(f'"{ADMIN_USER}" "{ADMIN_PASSWORD}"\n')
        ini = os.path.join(self.dir, "pgbouncer.ini")
        with open(ini, "w") as f:
            f.write(f"""[databases]
{DATABASE} = host=127.0.0.1 port={self.pg_port} dbname={DATABASE} user={USER}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = md5
auth_file = {auth_file}
pool_mode = transaction
default_pool_size = {self.pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {self.max_clients}
query_wait_timeout = 30
log_connections = 0
log_disconnections = 0
ignore_startup_parameters = extra_float_digits
""")
            if self.tls:
                f.write(f"""admin_users = {ADMIN_USER}
client_tls_sslmode = require
client_tls_cert_file = {self.tls.cert}
client_tls_key_file = {self.tls.key}
""")
        for path in (auth_file, ini):
            chown_to_pg(path)
        # It refuses to run as root: run it as `postgres`, in the foreground so its pid is ours;
        # it logs to stderr, which goes to pgbouncer.log.
        self._start(["pgbouncer", ini], cleanup, **pg_user_kwargs())


def haproxy_config(port, pg_port, max_conn):
    """HAProxy as a plain TCP hop from 127.0.0.1:port to PostgreSQL: one thread, no pooling, no logs."""
    return f"""# Written by tools/bench: a TCP hop that only forwards bytes (reference for any user-space proxy).
global
    nbthread 1
    maxconn {max_conn}

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

listen postgres
    bind 127.0.0.1:{port}
    server postgres 127.0.0.1:{pg_port}
"""


class HAProxy(Pooler):
    def __init__(self, work_dir, pg_port, max_clients, name="haproxy"):
        self.name = name
        self.dir = os.path.join(work_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log_file = os.path.join(self.dir, "haproxy.log")
        self.config_file = os.path.join(self.dir, "haproxy.cfg")
        self.pg_port, self.max_clients = pg_port, max_clients

    @staticmethod
    def version():
        p = run(["haproxy", "-v"], check=False)
        first = (p.stdout or p.stderr).splitlines()
        words = first[0].split() if first else []   # "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - ..."
        return f"HAProxy {words[2]}" if len(words) > 2 else "HAProxy (unknown version)"

    def start(self, cleanup):
        with open(self.config_file, "w") as f:
            f.write(haproxy_config(self.port, self.pg_port, self.max_clients))
        run(["haproxy", "-c", "-q", "-f", self.config_file])
        # -db: foreground, not master-worker, so the pid we hold is the process that forwards (its /proc
        # CPU is the figure) and it stops with us. Not the Debian service: our own config and port.
        self._start(["haproxy", "-db", "-f", self.config_file], cleanup)


FLOOR_SOURCES = {"floor": ("floor_relay.cpp", []), "floor-uring": ("floor_relay_uring.cpp", ["-luring"]),
                 "floor-tls": ("floor_relay_tls.cpp", ["-lssl", "-lcrypto"])}


class FloorRelay(Pooler):
    """floor_relay.cpp (epoll), floor_relay_uring.cpp (io_uring) or floor_relay_tls.cpp (epoll, client
    TLS with `tls`'s certificate), built for the run: a relay that only moves bytes with the fewest system
    calls, one server connection per client. No proxy can cost less."""

    def __init__(self, work_dir, pg_port, name, tls=None):
        self.name, self.tls = name, tls
        self.dir = os.path.join(work_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log_file = os.path.join(self.dir, "relay.log")
        self.pg_port = pg_port
        source, libs = FLOOR_SOURCES[name]
        self.source = os.path.join(os.path.dirname(os.path.abspath(__file__)), source)
        self.binary = os.path.join(self.dir, name)
        self.libs = libs

    def start(self, cleanup):
        run(["g++", "-O2", "-std=c++20", "-Wall", "-Wextra", "-Werror", "-o", self.binary, self.source, *self.libs])
        self._start(self.command(), cleanup)

    def command(self):
        """The relay's command line: its ports, and for floor-tls the run's certificate and key."""
        tls_args = [self.tls.cert, self.tls.key] if self.tls else []
        return [self.binary, str(self.port), str(self.pg_port), *tls_args]


def routers_yaml():
    """The `routers:` section of issue #4: a model and a shard router the pgbench tables miss."""
    return f"""routers:
  - type: model
    tables: {{"{MODEL_PATTERN}": {MODEL_ALIAS}}}
  - type: shard
    table: {SHARD_TABLE}
    key: {SHARD_KEY}
    key_type: bigint
    method: hash
    shards: [shard_0, shard_1]
    without_key: error
"""


class Pgroute(Pooler):
    console_db = "pgroute"

    def __init__(self, work_dir, binary, pg_port, pool_size, max_clients, threads, routed, name, tls=None):
        self.name, self.tls = name, tls   # tls: a tls.Certificates for client TLS (mode require), or None
        self.dir = os.path.join(work_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log_file = os.path.join(self.dir, "pgroute.log")
        self.config_file = os.path.join(self.dir, "pgroute.yaml")
        self.binary, self.pg_port, self.pool_size = binary, pg_port, pool_size
        self.max_clients, self.threads, self.routed = max_clients, threads, routed

    def description(self):
        """What the generated file's first line says about this configuration."""
        return "routing chain on" if self.routed else "routing off"

    def backends_yaml(self):
        """`default:` and `backends:`: `default` holds the pgbench tables, the routed aliases other databases."""
        url = lambda db: f"postgresql://{USER}@127.0.0.1:{self.pg_port}/{db}"  # noqa: E731
        backends = "".join(f"  {alias}:\n    url: \"{url(db)}\"\n" for alias, db in ROUTED_DATABASES.items())
        return f"""default: default
backends:
  default:
    url: "{url(DATABASE)}"
{backends}"""

    def routers_yaml(self):
        return routers_yaml() if self.routed else ""

    def config_text(self):
        admin_user = f"  - name: {ADMIN_USER}\n    password: {ADMIN_PASSWORD}\n    auth: md5\n" if self.tls else ""
        text = f"""# Written by tools/bench ({self.description()}{', client TLS required' if self.tls else ''}).
listen:
  host: 127.0.0.1
  port: {self.port}
threads: {self.threads}
max_client_connections: {self.max_clients}
{self.backends_yaml()}users:
  - name: {USER}
    password: {PASSWORD}
    auth: md5
{admin_user}pool:
  mode: transaction
  size: {self.pool_size}
  queue_timeout: 30s
  connect_timeout: 5s
"""
        if self.tls:
            text += f"""tls:
  cert: "{self.tls.cert}"
  key: "{self.tls.key}"
  mode: require
admin:
  users: [{ADMIN_USER}]
"""
        return text + self.routers_yaml()

    def check(self):
        """Writes the config and asks `pgroute --check`; returns None if accepted, else why not."""
        with open(self.config_file, "w") as f:
            f.write(self.config_text())
        p = run([self.binary, "--check", self.config_file], check=False)
        if p.returncode == 0:
            return None
        return (p.stderr or p.stdout).strip() or f"pgroute --check exited with {p.returncode}"

    def start(self, cleanup):
        problem = self.check()
        if problem:
            raise BenchError(f"{self.name}: configuration rejected:\n{problem}")
        self._start([self.binary, "--config", self.config_file, "--log-level", "warn"], cleanup)
