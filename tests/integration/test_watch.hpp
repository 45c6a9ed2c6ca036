// Hooks into doctest's run (see test_watch.cpp): failure tracking for diagnostics and a
// watchdog that ends a hung run instead of letting it eat the CI budget.
#pragma once

namespace pgroute::it {

// True once any assertion of the currently running test case has failed.
bool current_test_has_failed();

}  // namespace pgroute::it
