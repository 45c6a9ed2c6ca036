// Child processes for the integration tests: one-shot commands with a timeout (`run`) and
// long-lived servers (`ChildProcess`: PostgreSQL clusters, the proxy). No shell is involved:
// arguments go to execve as they are.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace pgroute::it {

using namespace std::chrono_literals;

// Who a child runs as. PostgreSQL refuses to run as root, so when the tests run as root its
// programs are started as the unprivileged `postgres` user; otherwise as ourselves.
enum class RunAs { self, postgres_user };

struct RunOptions {
  std::chrono::milliseconds timeout = 60s;
  RunAs as = RunAs::self;
  std::filesystem::path cwd;                             // empty: inherit
  std::vector<std::pair<std::string, std::string>> env;  // added to / overriding ours
  std::string stdin_data;                                // written to the child's stdin
};

struct RunResult {
  int exit_code = -1;      // exit status, or 128 + signal number
  bool timed_out = false;  // killed because it outlived RunOptions::timeout
  std::string out;
  std::string err;
  std::string describe() const;  // for test diagnostics
};

// Runs argv[0] (looked up in PATH when not absolute) and collects its output.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// Full path of a PostgreSQL 15 program (initdb, postgres, pgbench, psql, ...).
std::string pg_bin(const std::string& program);

// uid/gid the RunAs::postgres_user children get (ours when not root).
struct Identity {
  uid_t uid;
  gid_t gid;
};
Identity postgres_identity();
bool running_as_root();

// A long-lived child with stdout and stderr appended to `log_file`. When started from the
// main thread it also dies with the test binary (PR_SET_PDEATHSIG), so a crashed or killed
// test run leaves no servers behind.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log_file, RunAs as = RunAs::self,
               const std::vector<std::pair<std::string, std::string>>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();                                             // reaps it if it has exited
  std::optional<int> exit_status() const { return status_; }  // raw waitpid status
  void signal(int sig);
  // Waits for exit; true if it exited within `timeout`.
  bool wait_exit(std::chrono::milliseconds timeout);
  // `sig`, then SIGKILL if still alive after `grace`. Returns the raw waitpid status.
  int stop(int sig, std::chrono::milliseconds grace);
  const std::filesystem::path& log_file() const { return log_file_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_file_;
};

// Long-lived children still running, with their log files (for the hang watchdog).
void for_each_live_child(const std::function<void(pid_t, const std::filesystem::path&)>& fn);

// Last `max_lines` lines of a text file ("" if unreadable).
std::string file_tail(const std::filesystem::path& file, std::size_t max_lines);

}  // namespace pgroute::it
