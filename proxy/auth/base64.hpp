#pragma once
// Standard base64 (RFC 4648 section 4, with '=' padding) as SCRAM and PostgreSQL's
// stored verifiers use it.

#include <optional>
#include <string>
#include <string_view>

namespace pgroute::auth {

std::string base64_encode(std::string_view raw);

// Strict: the length must be a multiple of 4, padding only at the end, no whitespace,
// and unused bits of the last symbol must be zero. Anything else is nullopt, because
// these strings come from the network and a lenient decoder would let two different
// texts mean the same proof.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace pgroute::auth
