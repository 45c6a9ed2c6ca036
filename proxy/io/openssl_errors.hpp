// OpenSSL reports failures on a per-thread queue; this turns it into one line for a log or an error.
#pragma once
#include <string>

namespace pgroute {

// OpenSSL's reasons for the last failure, oldest first ("unknown OpenSSL error" if none), and the queue
// emptied so the next failure starts clean.
std::string openssl_errors();

}  // namespace pgroute
