// `pgroute explain --config FILE "SQL" [--param N=VALUE ...]`: where the configured router chain
// sends one statement, and why, without starting the proxy or touching a server.
#pragma once

#include <iosfwd>

namespace pgroute {

// args: what follows "explain" on the command line. Exit status: 0 routed, 1 refused,
// 2 bad usage or a configuration with problems (printed as FILE:LINE:COL: ...).
int explain_command(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace pgroute
