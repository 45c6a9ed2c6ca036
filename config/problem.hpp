// One thing wrong with a configuration file, placed where the user has to look.
#pragma once

#include <string>

namespace pgroute::config {

struct Problem {
  std::string file;
  int line = 0, column = 0;  // 1-based; 0 = no position (e.g. a missing section)
  std::string message;       // "path: what is wrong", never containing a password

  // "file:line:col: message", or "file: message" when there is no position.
  std::string to_string() const;
};

}  // namespace pgroute::config
