// A configuration file that holds plaintext passwords should be readable by its owner only, as libpq
// asks of ~/.pgpass and PostgreSQL of its key files. Not an error: the proxy still starts; the warning
// is given at --check, at start and at every reload.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"

namespace pgroute::config {

// Plaintext passwords written in the file itself (users and backend urls; ${ENV} ones do not count).
int plaintext_passwords_in_file(const Config& config);

// "FILE: is readable by group/others (mode 0644) and holds N plaintext password(s); ..." when the file
// at config.source (links followed) can be read by group or others and holds such passwords.
std::optional<std::string> secret_exposure_warning(const Config& config);

}  // namespace pgroute::config
