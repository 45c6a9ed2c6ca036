#include "router/private_stack.hpp"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>

#ifdef PGROUTE_ASAN  // private_stack.hpp: ASan is told of each switch of stacks
#include <sanitizer/common_interface_defs.h>
#endif

namespace pgroute::router {
namespace {

struct Switch {
  void (*fn)(void*);
  void* arg;
  ucontext_t caller;
  ucontext_t callee;
#ifdef PGROUTE_ASAN
  const void* caller_stack = nullptr;
  size_t caller_stack_size = 0;
#endif
};

// makecontext passes int arguments only: the Switch pointer travels as two 32-bit halves.
void trampoline(unsigned high, unsigned low) {
  auto* s = reinterpret_cast<Switch*>((static_cast<uintptr_t>(high) << 32) | low);
#ifdef PGROUTE_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s->caller_stack, &s->caller_stack_size);
#endif
  s->fn(s->arg);
#ifdef PGROUTE_ASAN
  __sanitizer_start_switch_fiber(nullptr, s->caller_stack, s->caller_stack_size);
#endif
  // Returning resumes uc_link, the caller.
}

// Kept apart from the mmap bookkeeping: getcontext() counts as "returns twice" for GCC, so the
// function calling it holds no locals that change afterwards.
[[gnu::noinline]] bool enter(Switch& s, char* stack, size_t size) {
  if (getcontext(&s.callee) != 0) return false;
  s.callee.uc_stack.ss_sp = stack;
  s.callee.uc_stack.ss_size = size;
  s.callee.uc_link = &s.caller;
  const auto address = reinterpret_cast<uintptr_t>(&s);
  makecontext(&s.callee, reinterpret_cast<void (*)()>(trampoline), 2, static_cast<unsigned>(address >> 32),
              static_cast<unsigned>(address & 0xffffffffu));
#ifdef PGROUTE_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, stack, size);
#endif
  const bool switched = swapcontext(&s.caller, &s.callee) == 0;
#ifdef PGROUTE_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  return switched;
}

}  // namespace

bool run_on_private_stack(size_t requested, void (*fn)(void*), void* arg) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t bytes = (requested + page - 1) / page * page;
  const size_t total = bytes + page;  // + guard page
  void* mem =
      mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) return false;
  Switch s{fn, arg, {}, {}};
  // Stacks grow down: the guard page sits at the low end.
  const bool ran = mprotect(mem, page, PROT_NONE) == 0 && enter(s, static_cast<char*>(mem) + page, bytes);
  munmap(mem, total);
  return ran;
}

}  // namespace pgroute::router
