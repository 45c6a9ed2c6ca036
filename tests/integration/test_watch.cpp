#include "test_watch.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include <doctest/doctest.h>
#include <unistd.h>

#include "process.hpp"
#include "temp_dir.hpp"

namespace pgroute::it {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A hung proxy must not hold CI hostage: these bound one test case and the whole binary.
constexpr auto kTestCaseLimit = 150s;
constexpr auto kRunLimit = 600s;

std::atomic<bool>& failed_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

[[noreturn]] void abort_run(const std::string& why) {
  std::cerr << "\n*** pgroute integration watchdog: " << why << " ***\n";
  for_each_live_child([](pid_t pid, const std::filesystem::path& log) {
    std::cerr << "--- child " << pid << ", tail of " << log << " ---\n" << file_tail(log, 30);
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  });
  std::cerr.flush();
  std::this_thread::sleep_for(500ms);  // let the killed servers let go of their files
  const char* keep = std::getenv("PGROUTE_IT_KEEP");
  if (keep == nullptr || std::string(keep) != "1") {
    std::error_code ec;
    std::filesystem::remove_all(run_root(), ec);
  }
  _exit(124);
}

// A doctest listener: it sees every assertion and every test case start.
class Watch : public doctest::IReporter {
 public:
  explicit Watch(const doctest::ContextOptions&) {}
  ~Watch() override { stop_watchdog(); }

  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {
    run_started_ = Clock::now();
    watchdog_ = std::thread([this] { watch(); });
  }
  void test_run_end(const doctest::TestRunStats&) override { stop_watchdog(); }
  void test_case_start(const doctest::TestCaseData& tc) override {
    failed_flag() = false;
    std::lock_guard lock(mutex_);
    current_ = tc.m_name;
    case_started_ = Clock::now();
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    std::lock_guard lock(mutex_);
    current_.clear();
  }
  void test_case_exception(const doctest::TestCaseException&) override { failed_flag() = true; }
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData& ad) override {
    if (ad.m_failed) failed_flag() = true;
  }
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, 500ms);
      const auto now = Clock::now();
      if (!current_.empty() && now - case_started_ > kTestCaseLimit)
        abort_run("test case \"" + current_ + "\" ran longer than " + std::to_string(kTestCaseLimit.count()) + " s");
      if (now - run_started_ > kRunLimit)
        abort_run("the integration run took longer than " + std::to_string(kRunLimit.count()) + " s");
    }
  }
  void stop_watchdog() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string current_;
  Clock::time_point case_started_{};
  Clock::time_point run_started_{};
  std::thread watchdog_;
};

}  // namespace

bool current_test_has_failed() { return failed_flag(); }

}  // namespace pgroute::it

REGISTER_LISTENER("pgroute-watch", 1, pgroute::it::Watch);
