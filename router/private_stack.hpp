#pragma once
// Runs a function on a private, lazily committed stack. libpg_query's protobuf output and protobuf-c's
// unpacking recurse once per tree level (about 2 KB of stack per level), and a left-deep expression
// such as `1+1+1+...` gets one level per two bytes of SQL: a 10 KB statement would overflow an 8 MB
// thread stack. The analyzer parses long statements here instead, on a stack sized from their length.

#include <cstddef>
#include <exception>

// GCC defines __SANITIZE_ADDRESS__ under ASan; clang 14 only answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define PGROUTE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PGROUTE_ASAN 1
#endif
#endif

namespace pgroute::router {

// How much more stack the same recursion takes in this build than in a plain one: ASan's redzones
// make a frame several times larger (the relation walk's: 2.5 KB), so stacks sized by measuring the
// plain build are scaled by it.
#ifdef PGROUTE_ASAN
inline constexpr size_t kStackScale = 4;
#else
inline constexpr size_t kStackScale = 1;
#endif

// Calls fn(arg) on a fresh stack of `bytes` (reserved with mmap, pages committed only when touched,
// guard page below) and returns true when fn has returned; false if the stack could not be mapped
// (fn was not called). fn must not throw.
bool run_on_private_stack(size_t bytes, void (*fn)(void*), void* arg);

}  // namespace pgroute::router
