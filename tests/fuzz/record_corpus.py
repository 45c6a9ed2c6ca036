#!/usr/bin/python3
"""Records the seed corpora in tests/fuzz/corpus/ from real traffic.

Starts a throw-away PostgreSQL 15 cluster (scram-sha-256 over TCP), puts a small TCP tee in front of
it, and runs real clients through the tee: psql (queries, hints, COPY in both directions, errors),
pgbench -i (COPY) and pgbench in -M simple/extended/prepared, a pgbench pipeline script and psycopg
executemany / pipeline batches (JDBC-style: many Parse/Bind/Execute, one Sync), a cancel request.
Each connection's two byte streams are split into messages and written as candidate inputs per
target; `fuzz_<target> -merge=1` then keeps only the inputs that add coverage, so the corpora stay
small. A few inputs are synthesized where traffic cannot supply them (a SCRAM exchange with the
fuzzers' fixed nonces, so that one seed reaches the success path; a GSSENCRequest).

usage (as root, after tools/fuzz has built the fuzzers):
  tests/fuzz/record_corpus.py [--build-dir build-fuzz]
"""

import argparse
import base64
import hashlib
import hmac
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "fuzz-recorder"
TARGETS = ["startup", "frontend", "backend", "scram_server", "scram_client", "hints", "analysis",
           "normalizer", "config", "check"]

SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Cluster:
    def __init__(self, base: Path):
        self.dir = base / "pg"
        self.dir.mkdir()
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        self.data = self.dir / "data"
        self.as_postgres([PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--pwfile", pwfile,
                          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                          "--no-sync"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.dir}'\nfsync = off\n")
        self.as_postgres([PG_BIN / "pg_ctl", "-D", self.data, "-w", "-l", self.dir / "log", "start"])

    def as_postgres(self, cmd):
        run(["runuser", "-u", "postgres", "--"] + [str(c) for c in cmd], cwd=self.dir)

    def stop(self):
        self.as_postgres([PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "stop"])


class Tee:
    """Forwards 127.0.0.1:port to the cluster and keeps both byte streams of every connection."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = []  # [client_bytes, server_bytes]
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target_port))
            streams = [bytearray(), bytearray()]
            with self.lock:
                self.connections.append(streams)
            for src, dst, buf in ((client, server, streams[0]), (server, client, streams[1])):
                threading.Thread(target=self.pump, args=(src, dst, buf), daemon=True).start()

    @staticmethod
    def pump(src, dst, buf):
        try:
            while data := src.recv(65536):
                buf += data
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


PSQL_SCRIPT = r"""
create table pgbench_branches_x (bid int primary key, name text);
create table events (user_id bigint, n int, note text);
create table tenants (name text primary key, plan text);
insert into events values (1, 1, 'it''s'), (999, 2, E'tab\there'), (1000, 3, null);
insert into tenants values ('alpha', 'free'), ('gamma', 'pro');
select * from events where user_id = 999;
select * from events where user_id = 1000 and n = 3;
update events set n = n + 1 where user_id = 1;
delete from events where user_id = -5;
select count(*) from events e join tenants t on t.name = e.note;
/* pgroute: shard_key=42 */ select * from events;
-- pgroute: alias=shard_1
select 1;
select '/* pgroute: alias=nowhere */' as not_a_hint;
set pgroute.shard_key = 7;
reset pgroute.shard_key;
begin;
insert into events values (5, 5, 'tx');
savepoint s1;
select * from tenants where name = 'alpha';
rollback to savepoint s1;
commit;
select 1; select 2; select 'three';
select x from nowhere;
select 1/0;
prepare q1 (bigint) as select * from events where user_id = $1;
execute q1(999);
deallocate q1;
select 1.5e3, .5, 0x1f, B'101', X'ff', U&'\0041', date '2020-01-01', interval '1 day', $$dollar$$;
copy events from stdin;
7	70	copied
8	80	\N
\.
copy events to stdout;
copy (select * from tenants) to stdout with (format csv, header);
show server_version;
select pg_sleep(0);
do $$ begin raise notice 'hello %', 1; end $$;
listen ch; notify ch, 'payload';
select * from events where user_id in (1, 2, 3) order by user_id limit 2;
with w as (select * from events where user_id = 1) select * from w;
insert into events select g, g, 'gen' from generate_series(1, 3) g returning user_id;
explain select * from events where user_id = 1;
vacuum events;
"""

PIPELINE_SCRIPT = r"""
\set aid random(1, 100000 * :scale)
\set delta random(-5000, 5000)
\startpipeline
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
END;
\endpipeline
"""


def workloads(port: int, base: Path):
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGHOST="127.0.0.1", PGPORT=str(port), PGUSER="postgres",
               PGDATABASE="postgres", PGCONNECT_TIMEOUT="10")
    psql = str(PG_BIN / "psql")
    pgbench = str(PG_BIN / "pgbench")
    script = base / "script.sql"
    script.write_text(PSQL_SCRIPT)
    for sslmode in ("disable", "prefer"):
        subprocess.run([psql, "-X", "-v", "ON_ERROR_STOP=0", "-f", str(script)],
                       env=dict(env, PGSSLMODE=sslmode), capture_output=True, check=False)
        subprocess.run([psql, "-X", "-c", "drop table if exists events, tenants, pgbench_branches_x"],
                       env=dict(env, PGSSLMODE=sslmode), capture_output=True, check=False)
    run([pgbench, "-i", "-s", "1", "-q"], env=env)
    for mode in ("simple", "extended", "prepared"):
        run([pgbench, "-M", mode, "-t", "20", "-c", "1"], env=env)
        run([pgbench, "-M", mode, "-t", "10", "-c", "1", "-S"], env=env)
    pipeline = base / "pipeline.sql"
    pipeline.write_text(PIPELINE_SCRIPT)
    for mode in ("extended", "prepared"):
        run([pgbench, "-M", mode, "-t", "10", "-c", "1", "-f", str(pipeline)], env=env)
    subprocess.run(["/usr/bin/python3", "-c", PSYCOPG_SCRIPT, str(port), PASSWORD], check=True)


PSYCOPG_SCRIPT = r"""
import sys, threading, time, psycopg
port, password = sys.argv[1], sys.argv[2]
dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres password={password} sslmode=disable"
with psycopg.connect(dsn, application_name="jdbc-like") as conn:
    conn.execute("create table if not exists votes (id bigint, user_id bigint, v text, at timestamptz)")
    with conn.cursor() as cur:
        # One Parse, many Bind/Execute, one Sync (executemany runs in pipeline mode).
        cur.executemany("insert into votes (id, user_id, v, at) values (%s, %s, %s, now())",
                        [(i, i % 7, f"v{i}") for i in range(20)])
        cur.execute("select * from votes where user_id = %s and v = %s", (3, "v3"), prepare=True)
        cur.execute("select * from votes where user_id = %s and v = %s", (4, "v4"), prepare=True)
        cur.execute("select * from votes where id = %b", (5,))  # a binary parameter
        cur.execute("select %s::uuid, %s::int2, %s::text", ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 7, None))
    with conn.pipeline():
        for i in range(5):
            conn.execute("update votes set v = %s where id = %s", (f"w{i}", i))
        conn.execute("select count(*) from votes")
    conn.commit()
    with conn.cursor() as cur:
        with cur.copy("copy votes (id, user_id, v) from stdin") as copy:
            for i in range(5):
                copy.write_row((100 + i, i, f"c{i}"))
    conn.commit()
with psycopg.connect(dsn) as conn:
    def cancel():
        time.sleep(0.3)
        conn.cancel()
    threading.Thread(target=cancel).start()
    try:
        conn.execute("select pg_sleep(5)")
    except psycopg.errors.QueryCanceled:
        pass
"""


# --- splitting the streams -------------------------------------------------------------------------

def untyped_packets(data: bytes):
    """The startup-phase packets at the front of a client stream, and where the typed part starts."""
    packets, pos = [], 0
    while pos + 8 <= len(data):
        length, code = struct.unpack_from("!ii", data, pos)
        if length < 8 or pos + length > len(data):
            break
        packets.append((code, data[pos:pos + length]))
        pos += length
        if code not in (SSL_REQUEST, GSSENC_REQUEST):
            break
    return packets, pos


def typed_messages(data: bytes, pos: int = 0):
    out = []
    while pos + 5 <= len(data):
        length = struct.unpack_from("!i", data, pos + 1)[0]
        if length < 4 or pos + 1 + length > len(data):
            break
        out.append(data[pos:pos + 1 + length])
        pos += 1 + length
    return out


def units(messages, ends: bytes, limit=2048):
    """Messages grouped into units ending at one of `ends` (Sync, Query, ReadyForQuery), and units
    packed into inputs of at most `limit` bytes where they fit."""
    unit, all_units = [], []
    for m in messages:
        unit.append(m)
        if m[:1] in ends:
            all_units.append(b"".join(unit))
            unit = []
    if unit:
        all_units.append(b"".join(unit))
    # pgbench -i's COPY of 100,000 rows is one unit of megabytes: the small COPYs cover the same code.
    all_units = [u for u in all_units if len(u) <= 16384]
    packed, cur = [], b""
    for u in all_units:
        if cur and len(cur) + len(u) > limit:
            packed.append(cur)
            cur = b""
        cur += u
    if cur:
        packed.append(cur)
    return all_units + packed


def cstring(body: bytes, pos: int):
    end = body.index(b"\0", pos)
    return body[pos:end], end + 1


def sql_inputs(client_messages):
    """Statement texts (simple queries and Parse) and Parse text + NUL + Bind tail pairs."""
    texts, with_binds = [], []
    parsed = {}  # statement name -> text
    for m in client_messages:
        kind, body = m[:1], m[5:]
        try:
            if kind == b"Q":
                texts.append(cstring(body, 0)[0])
            elif kind == b"P":
                name, pos = cstring(body, 0)
                query, _ = cstring(body, pos)
                parsed[name] = query
                texts.append(query)
            elif kind == b"B":
                _, pos = cstring(body, 0)
                name, pos = cstring(body, pos)
                if name in parsed:
                    with_binds.append(parsed[name] + b"\0" + body[pos:])
        except ValueError:
            pass
    return texts, with_binds


def split_connection(client: bytes, server: bytes, out):
    packets, pos = untyped_packets(client)
    if not packets:
        return
    out["startup"].append(client[:pos])
    if packets[-1][0] == CANCEL_REQUEST:
        return
    answered = sum(1 for code, _ in packets if code in (SSL_REQUEST, GSSENC_REQUEST))
    server_messages = typed_messages(server, answered)  # one byte ('N') answers each request
    client_messages = typed_messages(client, pos)
    auth_client = [m for m in client_messages if m[:1] == b"p"]
    if auth_client:
        out["scram_server"].append(b"".join(auth_client))
    login = []
    for m in server_messages:
        login.append(m)
        if m[:1] == b"Z":
            break
    out["scram_client"].append(b"".join(login))
    out["frontend"] += units(client_messages, b"SQX")
    out["backend"] += units(server_messages, b"Z")
    texts, with_binds = sql_inputs(client_messages)
    out["normalizer"] += texts
    out["hints"] += texts
    out["analysis"] += texts + with_binds


# --- synthesized inputs ----------------------------------------------------------------------------

def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def scram_keys(password: bytes, salt: bytes, iterations: int):
    salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return client_key, hashlib.sha256(client_key).digest(), server_key


def scram_exchange(client_nonce: str, server_nonce: str, salt: bytes, iterations: int):
    """A successful exchange for password "pencil": the four SCRAM messages."""
    client_first_bare = f"n=,r={client_nonce}"
    server_first = f"r={client_nonce}{server_nonce},s={base64.b64encode(salt).decode()},i={iterations}"
    without_proof = f"c=biws,r={client_nonce}{server_nonce}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    client_key, stored_key, server_key = scram_keys(b"pencil", salt, iterations)
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    client_final = f"{without_proof},p={base64.b64encode(proof).decode()}"
    server_final = "v=" + base64.b64encode(hmac.new(server_key, auth_message, "sha256").digest()).decode()
    return "n,," + client_first_bare, server_first, client_final, server_final


def synthesized(out):
    # tests/fuzz/fuzz_scram_server.cpp: salt "pgroute-fuzz-salt", 4096 iterations, fixed server nonce.
    cf, sf, cfin, _ = scram_exchange("rOprNGfwEbeRWgbNEkqO", "pgroute-fuzz-server-nonce",
                                     b"pgroute-fuzz-salt", 4096)
    out["scram_server"].append(
        message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(cf)) + cf.encode()) +
        message(b"p", cfin.encode()))
    # tests/fuzz/fuzz_scram_client.cpp: fixed client nonce; few iterations, so the password is used.
    cf, sf, cfin, sfin = scram_exchange("pgroute-fuzz-client-nonce", "%hvYDpWUa2RaTCAfuxFIlj)hNlF",
                                        b"[m\x99\x1f\x13\x9c", 16)
    out["scram_client"].append(
        message(b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0") +
        message(b"R", struct.pack("!i", 11) + sf.encode()) +
        message(b"R", struct.pack("!i", 12) + sfin.encode()) +
        message(b"R", struct.pack("!i", 0)))
    out["startup"].append(struct.pack("!ii", 8, GSSENC_REQUEST) + struct.pack("!ii", 8, SSL_REQUEST) +
                          struct.pack("!ii", 8, 196608) + b"\0")


def config_inputs(out):
    """Real configuration files: the example, and the YAML the unit and integration tests load."""
    texts = [(ROOT / "examples" / "pgroute.yaml").read_bytes()]
    backends = b'backends:\n  default: {url: "postgresql://h"}\n  shard_0: {url: "postgresql://h"}\n'
    for path in sorted((ROOT / "tests").glob("*/**/*.cpp")):
        for block in re.findall(r'R"\((.*?)\)"', path.read_text(), re.S):
            if re.search(r"^\s*(backends|routers|listen|users|pool):", block, re.M):
                text = block.lstrip("\n").encode()
                texts.append(text if b"backends:" in text else backends + text)
    out["config"] += texts
    out["check"] += texts


def kept_as_is():
    """Inputs that add no coverage but must stay in a corpus: merging would drop them."""
    # Defect 1 of issue 16: key extraction is quadratic in the length of an AND chain; this one takes
    # about 25 s in the fuzz build before the fix (2,000 conjuncts took 3 s, which libFuzzer's -timeout=3
    # can miss: it looks only every couple of seconds). The analysis target fails on it until analysis
    # is linear.
    chain = b"select abalance from pgbench_accounts where aid = 1" + b" and aid = 1" * 4000
    return {"analysis": {"and-chain-4000": chain}}


def write_candidates(out, base: Path):
    dirs = {}
    for target, inputs in out.items():
        d = base / "candidates" / target
        d.mkdir(parents=True)
        for data in inputs:
            if data:
                (d / hashlib.sha1(data).hexdigest()).write_bytes(data)
        dirs[target] = d
    return dirs


def merge(target: str, candidates: Path, build_dir: Path):
    """Keeps the candidates that add coverage (libFuzzer's -merge) as tests/fuzz/corpus/<target>/."""
    corpus = ROOT / "tests" / "fuzz" / "corpus" / target
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    fuzzer = build_dir / "tests" / "fuzz" / f"fuzz_{target}"
    max_len = ["-max_len=65536"] if target == "analysis" else []
    subprocess.run([str(fuzzer), "-merge=1", "-timeout=10", *max_len, str(corpus), str(candidates)],
                   check=True, capture_output=True)
    files = list(corpus.iterdir())
    print(f"{target}: {len(list(candidates.iterdir()))} candidates -> {len(files)} inputs, "
          f"{sum(f.stat().st_size for f in files)} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=str(ROOT / "build-fuzz"))
    args = parser.parse_args()
    build_dir = Path(args.build_dir).resolve()
    out = {t: [] for t in TARGETS}
    with tempfile.TemporaryDirectory(prefix="pgroute-corpus-") as tmp:
        base = Path(tmp)
        os.chmod(base, 0o755)
        cluster = Cluster(base)
        try:
            tee = Tee(cluster.port)
            workloads(tee.port, base)
            time.sleep(0.5)  # let the pumps see the last bytes
            with tee.lock:
                for client, server in tee.connections:
                    split_connection(bytes(client), bytes(server), out)
        finally:
            cluster.stop()
        synthesized(out)
        config_inputs(out)
        dirs = write_candidates(out, base)
        for target in TARGETS:
            merge(target, dirs[target], build_dir)
        for target, inputs in kept_as_is().items():
            for name, data in inputs.items():
                (ROOT / "tests" / "fuzz" / "corpus" / target / name).write_bytes(data)


if __name__ == "__main__":
    sys.exit(main())
