"""What the benchmark needs before it starts: Debian packages and a Release build of pgroute."""
import os
import subprocess

from .procs import BenchError, is_root, log

# Beyond tools/setup (which installs PostgreSQL 15, pgbench, PgBouncer and the build chain).
EXTRA_PACKAGES = ["python3-matplotlib"]


def _installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return p.stdout.strip() == "install ok installed"


def install_packages(repo, extra=()):
    subprocess.run([os.path.join(repo, "tools", "setup")], check=True)
    missing = [p for p in [*EXTRA_PACKAGES, *extra] if not _installed(p)]
    if not missing:
        return
    sudo = [] if is_root() else ["sudo"]
    log(f"installing {' '.join(missing)}")
    subprocess.run(sudo + ["apt-get", "update"], check=True)
    subprocess.run(sudo + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", *missing],
                   check=True)


def build_release(repo, build_dir, jobs, pgo="OFF", pgo_dir=None):
    """Release build of the pgroute binary only (no tests) into build_dir. pgo: PGROUTE_PGO, OFF or a step
    of tools/pgo (GENERATE, USE) with its profile in pgo_dir; OFF is passed too, since a directory tools/pgo
    built keeps its profile settings in the CMake cache otherwise."""
    log(f"building pgroute (Release{'' if pgo == 'OFF' else ', PGROUTE_PGO=' + pgo}) in {build_dir}")
    configure = ["cmake", "-S", repo, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DPGROUTE_TESTS=OFF",
                 f"-DPGROUTE_PGO={pgo}", *([f"-DPGROUTE_PGO_DIR={pgo_dir}"] if pgo_dir else [])]
    for cmd in (configure, ["cmake", "--build", build_dir, "--target", "pgroute", f"-j{jobs}"]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise BenchError(f"{' '.join(cmd)} failed:\n{(p.stdout + p.stderr)[-4000:]}")
    binary = os.path.join(build_dir, "pgroute")
    if not os.access(binary, os.X_OK):
        raise BenchError(f"build produced no {binary}")
    return binary


def describe_machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), {mem}, Linux {os.uname().release}"


def git_revision(repo):
    p = subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return p.stdout.strip() or "unknown"
