#include "process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace pgroute::it {
namespace {

using Clock = std::chrono::steady_clock;

// argv/envp as execve wants them, built before fork: after fork in a threaded program only
// async-signal-safe calls are allowed, so the child must not allocate.
struct ExecImage {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecImage(const std::vector<std::string>& a, const std::vector<std::pair<std::string, std::string>>& overrides)
      : args(a) {
    if (args.empty()) throw std::invalid_argument("run: empty argv");
    std::map<std::string, std::string> merged;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      auto eq = entry.find('=');
      if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const auto& [k, v] : overrides) merged[k] = v;
    for (const auto& [k, v] : merged) env.push_back(k + "=" + v);
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

[[noreturn]] void child_fail(const char* what) {
  // Only async-signal-safe calls here.
  const char* reason = strerror(errno);
  (void)!write(2, what, strlen(what));
  (void)!write(2, ": ", 2);
  (void)!write(2, reason, strlen(reason));
  (void)!write(2, "\n", 1);
  _exit(127);
}

// Common child-side setup after fork: identity, cwd, default signal dispositions, exec.
// `parent` != 0 ties the child's life to that process (see ChildProcess).
[[noreturn]] void exec_child(ExecImage& image, RunAs as, const Identity& id, const char* cwd, pid_t parent = 0) {
  signal(SIGPIPE, SIG_DFL);  // ignored in the test binary; a child must not inherit that
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (as == RunAs::postgres_user && geteuid() == 0) {
    if (setgroups(1, &id.gid) != 0) child_fail("setgroups");
    if (setgid(id.gid) != 0) child_fail("setgid");
    if (setuid(id.uid) != 0) child_fail("setuid");
  }
  if (parent != 0) {
    // After setuid, which clears it; exec of a non-setuid binary keeps it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail("prctl");
    if (getppid() != parent) _exit(1);  // the parent died before prctl
  }
  if (cwd != nullptr && chdir(cwd) != 0) child_fail("chdir");
  execvpe(image.argv[0], image.argv.data(), image.envp.data());
  child_fail(image.argv[0]);
}

void ignore_sigpipe_once() {
  // Writing to a child's stdin after it exited must be an EPIPE, not the end of the tests.
  static std::once_flag once;
  std::call_once(once, [] { signal(SIGPIPE, SIG_IGN); });
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

struct ChildRegistry {
  std::mutex mutex;
  std::map<pid_t, std::filesystem::path> live;
};

ChildRegistry& registry() {
  static ChildRegistry r;
  return r;
}

}  // namespace

std::string RunResult::describe() const {
  std::ostringstream s;
  s << "exit code " << exit_code << (timed_out ? " (timed out)" : "") << "\n--- stdout ---\n"
    << out << "\n--- stderr ---\n"
    << err;
  return s.str();
}

bool running_as_root() { return geteuid() == 0; }

Identity postgres_identity() {
  if (!running_as_root()) return {getuid(), getgid()};
  passwd* pw = getpwnam("postgres");
  if (pw == nullptr) throw std::runtime_error("running as root but there is no `postgres` user (run tools/setup)");
  return {pw->pw_uid, pw->pw_gid};
}

std::string pg_bin(const std::string& program) { return "/usr/lib/postgresql/15/bin/" + program; }

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  ignore_sigpipe_once();
  ExecImage image(argv, options.env);
  const Identity id = options.as == RunAs::postgres_user ? postgres_identity() : Identity{};
  const std::string cwd = options.cwd.string();

  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("run: pipe2 failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("run: fork failed");
  if (pid == 0) {
    setpgid(0, 0);  // so a timeout can kill everything the command started
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    exec_child(image, options.as, id, cwd.empty() ? nullptr : cwd.c_str());
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);

  RunResult result;
  std::size_t written = 0;
  int stdin_fd = in[1];
  if (options.stdin_data.empty()) {
    close(stdin_fd);
    stdin_fd = -1;
  }
  int fds[2] = {out[0], err[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  const auto deadline = Clock::now() + options.timeout;
  std::optional<Clock::time_point> exited_at;
  int status = 0;
  bool reaped = false;

  for (;;) {
    if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      exited_at = Clock::now();
    }
    const bool pipes_open = fds[0] >= 0 || fds[1] >= 0;
    // Something the command started may keep its output open; do not wait on it forever.
    if (reaped && (!pipes_open || Clock::now() - *exited_at > 1s)) break;
    if (Clock::now() > deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      result.timed_out = true;
      if (!reaped) waitpid(pid, &status, 0);
      reaped = true;
      break;
    }
    pollfd pfds[3];
    int n = 0;
    for (int fd : fds)
      if (fd >= 0) pfds[n++] = {fd, POLLIN, 0};
    if (stdin_fd >= 0) pfds[n++] = {stdin_fd, POLLOUT, 0};
    poll(pfds, static_cast<nfds_t>(n), 20);
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0) continue;
      char buf[65536];
      const ssize_t got = read(fds[i], buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fds[i]);  // EOF
        fds[i] = -1;
      }
    }
    if (stdin_fd >= 0) {
      const ssize_t put = write(stdin_fd, options.stdin_data.data() + written, options.stdin_data.size() - written);
      if (put > 0) written += static_cast<std::size_t>(put);
      if ((put < 0 && errno != EAGAIN && errno != EINTR) || written == options.stdin_data.size()) {
        close(stdin_fd);
        stdin_fd = -1;
      }
    }
  }
  for (int fd : fds)
    if (fd >= 0) close(fd);
  if (stdin_fd >= 0) close(stdin_fd);
  result.exit_code = decode_status(status);
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log_file, RunAs as,
                           const std::vector<std::pair<std::string, std::string>>& env)
    : log_file_(log_file) {
  ignore_sigpipe_once();
  ExecImage image(argv, env);
  const Identity id = as == RunAs::postgres_user ? postgres_identity() : Identity{};
  const int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) throw std::runtime_error("ChildProcess: cannot open " + log_file.string());
  if (as == RunAs::postgres_user && running_as_root()) (void)!fchown(log_fd, id.uid, id.gid);
  // PR_SET_PDEATHSIG fires when the *thread* that forked exits, so only tie the child's life
  // to ours when that thread is the main one (it lives as long as the process).
  const bool tie_to_parent = gettid() == getpid();
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("ChildProcess: fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    exec_child(image, as, id, nullptr, tie_to_parent ? parent : 0);
  }
  close(log_fd);
  close(null_fd);
  std::lock_guard lock(registry().mutex);
  registry().live[pid_] = log_file_;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) stop(SIGTERM, 5s);
}

bool ChildProcess::running() {
  if (status_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = status;
    std::lock_guard lock(registry().mutex);
    registry().live.erase(pid_);
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) {
  if (running()) kill(pid_, sig);
}

bool ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

int ChildProcess::stop(int sig, std::chrono::milliseconds grace) {
  signal(sig);
  if (!wait_exit(grace)) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    wait_exit(10s);
  }
  return status_.value_or(-1);
}

void for_each_live_child(const std::function<void(pid_t, const std::filesystem::path&)>& fn) {
  std::lock_guard lock(registry().mutex);
  for (const auto& [pid, log] : registry().live) fn(pid, log);
}

std::string file_tail(const std::filesystem::path& file, std::size_t max_lines) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "";
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > max_lines * 2) lines.erase(lines.begin(), lines.end() - max_lines);
  }
  const std::size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string tail;
  for (std::size_t i = from; i < lines.size(); ++i) tail += lines[i] + "\n";
  return tail;
}

}  // namespace pgroute::it
