// One line per event on stderr, written with a single write(2) so lines from threads never interleave.
#pragma once
#include <sstream>
#include <string_view>

namespace pgroute::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level);
bool enabled(Level level);
void write_line(Level level, std::string_view text);
std::string_view level_name(Level level);

// Collects one line and emits it on destruction: PGR_LOG(info) << "client " << id << " connected";
class Line {
 public:
  explicit Line(Level level) : level_(level) {}
  ~Line() { write_line(level_, out_.str()); }
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  template <class T>
  Line& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  Level level_;
  std::ostringstream out_;
};

}  // namespace pgroute::log

// A for-statement rather than if/else so a PGR_LOG inside an unbraced if cannot capture its else. The line
// is expected not to be written: the compiler moves its stream code out of the function's hot part, which
// the per-message functions that log now and then would otherwise carry through the instruction cache.
#define PGR_LOG(lvl)                                                                                                 \
  for (bool pgr_log_once_ = __builtin_expect(::pgroute::log::enabled(::pgroute::log::Level::lvl), 0); pgr_log_once_; \
       pgr_log_once_ = false)                                                                                        \
  ::pgroute::log::Line(::pgroute::log::Level::lvl)
