#pragma once
// Runs a function on a private, lazily committed stack. libpg_query's protobuf output and protobuf-c's
// unpacking recurse once per tree level (about 2 KB of stack per level), and a left-deep expression
// such as `1+1+1+...` gets one level per two bytes of SQL: a 10 KB statement would overflow an 8 MB
// thread stack. The analyzer parses long statements here instead, on a stack sized from their length.

#include <cstddef>
#include <exception>

namespace pgroute::router {

// Calls fn(arg) on a fresh stack of `bytes` (reserved with mmap, pages committed only when touched,
// guard page below) and returns true when fn has returned; false if the stack could not be mapped
// (fn was not called). fn must not throw.
bool run_on_private_stack(size_t bytes, void (*fn)(void*), void* arg);

}  // namespace pgroute::router
