#include "router/private_stack.hpp"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define PGROUTE_ASAN_FIBERS 1
#endif

namespace pgroute::router {
namespace {

struct Switch {
    void (*fn)(void*);
    void* arg;
    ucontext_t caller;
    ucontext_t callee;
#ifdef PGROUTE_ASAN_FIBERS
    const void* caller_stack = nullptr;
    size_t caller_stack_size = 0;
#endif
};

// makecontext passes int arguments only: the Switch pointer travels as two 32-bit halves.
void trampoline(unsigned high, unsigned low) {
    auto* s = reinterpret_cast<Switch*>((static_cast<uintptr_t>(high) << 32) | low);
#ifdef PGROUTE_ASAN_FIBERS
    __sanitizer_finish_switch_fiber(nullptr, &s->caller_stack, &s->caller_stack_size);
#endif
    s->fn(s->arg);
#ifdef PGROUTE_ASAN_FIBERS
    __sanitizer_start_switch_fiber(nullptr, s->caller_stack, s->caller_stack_size);
#endif
    // Returning resumes uc_link, the caller.
}

}  // namespace

bool run_on_private_stack(size_t bytes, void (*fn)(void*), void* arg) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    bytes = (bytes + page - 1) / page * page;
    const size_t total = bytes + page;  // + guard page
    void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);
    if (mem == MAP_FAILED) return false;
    bool ran = false;
    if (mprotect(mem, page, PROT_NONE) == 0) {  // stacks grow down: the guard sits at the low end
        Switch s{fn, arg, {}, {}};
        if (getcontext(&s.callee) == 0) {
            s.callee.uc_stack.ss_sp = static_cast<char*>(mem) + page;
            s.callee.uc_stack.ss_size = bytes;
            s.callee.uc_link = &s.caller;
            auto address = reinterpret_cast<uintptr_t>(&s);
            makecontext(&s.callee, reinterpret_cast<void (*)()>(trampoline), 2,
                        static_cast<unsigned>(address >> 32), static_cast<unsigned>(address & 0xffffffffu));
#ifdef PGROUTE_ASAN_FIBERS
            void* fake_stack = nullptr;
            __sanitizer_start_switch_fiber(&fake_stack, s.callee.uc_stack.ss_sp, bytes);
#endif
            ran = swapcontext(&s.caller, &s.callee) == 0;
#ifdef PGROUTE_ASAN_FIBERS
            __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
        }
    }
    munmap(mem, total);
    return ran;
}

}  // namespace pgroute::router
