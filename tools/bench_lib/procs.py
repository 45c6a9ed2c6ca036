"""Processes the benchmark starts, and what it reads about them from /proc.

Everything started is registered with `Cleanup`, which stops it in reverse order on exit, on an
exception and on SIGINT/SIGTERM, then removes the temporary directories.
"""
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class BenchError(Exception):
    """A failure that ends the run with a message (no traceback)."""


def is_root():
    return os.geteuid() == 0


def pg_user_kwargs():
    """Popen arguments that run a program as `postgres` (PostgreSQL and PgBouncer refuse root)."""
    if not is_root():
        return {}
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def chown_to_pg(path):
    if is_root():
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def raise_nofile(wanted=65536):
    """Raises RLIMIT_NOFILE (soft, and hard when allowed) for this process; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            pass   # no CAP_SYS_RESOURCE (e.g. a container): the hard limit is as far as we go
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc=None, timeout=15.0, what="process"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{what} exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def run(cmd, *, as_pg=False, check=True, env=None, input=None, timeout=None, cwd=None):
    kwargs = pg_user_kwargs() if as_pg else {}
    # Own session: a Ctrl-C on the terminal reaches us only, and we stop children in order.
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, input=input, timeout=timeout,
                       cwd=cwd, start_new_session=True, **kwargs)
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


class ProcStat:
    """CPU seconds (utime+stime, all threads) and resident memory of one process."""

    def __init__(self, pid):
        self.pid = pid

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            data = f.read()
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = data[data.rindex(")") + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])   # fields 14 and 15 of proc(5)
        return (utime + stime) / CLOCK_TICKS

    def rss_bytes(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


class Cleanup:
    """Stops what was started, newest first; safe to call more than once."""

    def __init__(self):
        self._actions = []   # (description, callable)
        self._done = False

    def add(self, description, action):
        self._actions.append((description, action))

    def add_process(self, description, proc, stop_signal=signal.SIGTERM, grace=10.0):
        def stop():
            if proc.poll() is not None:
                return
            proc.send_signal(stop_signal)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"{description} did not stop within {grace:.0f} s: killing it")
                proc.kill()
                proc.wait()
        self.add(description, stop)

    def add_dir(self, path):
        self.add(f"remove {path}", lambda: shutil.rmtree(path, ignore_errors=True))

    def run(self):
        if self._done:
            return
        self._done = True
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):   # a second Ctrl-C must not cut it short
            signal.signal(sig, signal.SIG_IGN)
        while self._actions:
            description, action = self._actions.pop()
            try:
                action()
            except Exception as e:  # keep cleaning up the rest
                print(f"[bench] cleanup: {description}: {e}", file=sys.stderr)

    def install_signal_handlers(self):
        """SIGINT/SIGTERM become exceptions, so `finally` blocks and this cleanup run."""
        def handler(signum, _frame):
            raise KeyboardInterrupt(f"signal {signum}")
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGHUP, handler)
