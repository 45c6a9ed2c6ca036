#include "config/secret_exposure.hpp"

#include <sys/stat.h>

#include <cstdio>

namespace pgroute::config {

int plaintext_passwords_in_file(const Config& config) {
  int count = 0;
  for (const auto& user : config.users) count += user.password_in_file ? 1 : 0;
  for (const auto& backend : config.backends) count += backend.password_in_file ? 1 : 0;
  return count;
}

std::optional<std::string> secret_exposure_warning(const Config& config) {
  const int passwords = plaintext_passwords_in_file(config);
  if (passwords == 0) return std::nullopt;
  struct stat st {};
  if (::stat(config.source.c_str(), &st) != 0) return std::nullopt;  // not a file (load_text): nothing to judge
  if ((st.st_mode & (S_IRGRP | S_IROTH)) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return config.source + ": is readable by group/others (mode " + mode + ") and holds " + std::to_string(passwords) +
         " plaintext password(s); chmod 600 it or use ${ENV} / SCRAM secrets";
}

}  // namespace pgroute::config
