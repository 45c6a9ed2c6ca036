// Changes to how Boost 1.81's Asio (1.26) drives io_uring, made by renaming the liburing calls its
// inline service code makes (io_uring_service.ipp, the socket operations) to the wrappers below.
//
// Forced into every translation unit built on io_uring (-include, CMakeLists.txt), ahead of any Asio
// header, so all of them compile Asio's service code the same way. liburing.h is included first: its
// own declarations keep their names.
#pragma once
#include <boost/version.hpp>

#if defined(BOOST_ASIO_HAS_IO_URING)
#include <liburing.h>

#include <atomic>
#include <cerrno>

// --- 1. Stale user_data (a correctness fix).
// Asio 1.26 submits some entries (the cancel behind socket.cancel(), timer queue updates) without
// setting their user_data, and liburing's io_uring_get_sqe() leaves the value of the slot's previous
// entry in place. The kernel reports such a cancel's completion under that stale value, and Asio
// completes whatever operation it points to: a read pending on another socket ends with 0 bytes, which
// looks like that client hanging up. Upstream fixed it in Asio 1.27 (Boost 1.82, chriskohlhoff/asio
// pull request 1215). Until Debian's Boost has it, every entry Asio takes starts with user_data 0,
// which Asio ignores on completion.
#if BOOST_VERSION < 108200
inline io_uring_sqe* pgroute_io_uring_get_sqe(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (sqe) io_uring_sqe_set_data(sqe, nullptr);
  return sqe;
}
#define io_uring_get_sqe pgroute_io_uring_get_sqe
#endif

// Sections 2 and 3 rely on how Asio 1.26 (Boost 1.81, Debian 12) calls liburing: which calls hold its
// ring mutex, and that only a loop's own thread peeks or waits. Another Boost gets Asio's own
// behaviour until its io_uring_service.ipp has been read the same way.
// Only with io_uring as Asio's reactor (BOOST_ASIO_DISABLE_EPOLL): with epoll in front, the ring's
// completions are collected from an eventfd handler and a deferred entry could wait for ever.
#if BOOST_VERSION / 100 == 1081 && defined(BOOST_ASIO_DISABLE_EPOLL)
#define PGROUTE_IO_URING_HOOKS 1  // sections 2 and 3 are in force

// --- 2. Receives wait for data before they try (IORING_RECVSEND_POLL_FIRST, Linux 5.19).
// The proxy queues a read when it expects an answer that has not come yet (the server's reply right
// after the query went out, the client's next query right after its answer), so the kernel's first
// attempt nearly always fails and only then arms its poll. With the flag it arms the poll at once; a
// socket that already has data is read as before. Kernels before 5.19 may refuse the flag: it is set
// only once a ring was set up with 5.19's cooperative task running (proxy/io_backend.cpp).
namespace pgroute::uring_hooks {
inline std::atomic<bool> recv_poll_first{false};
}  // namespace pgroute::uring_hooks

inline void pgroute_io_uring_prep_recvmsg(io_uring_sqe* sqe, int fd, msghdr* msg, unsigned flags) {
  io_uring_prep_recvmsg(sqe, fd, msg, flags);
  if (pgroute::uring_hooks::recv_poll_first.load(std::memory_order_relaxed))
    sqe->ioprio = static_cast<__u16>(sqe->ioprio | IORING_RECVSEND_POLL_FIRST);
}
#define io_uring_prep_recvmsg pgroute_io_uring_prep_recvmsg

// --- 3. One system call per loop turn: entries are submitted by the wait that follows them.
// Asio submits queued entries from a handler of their own (io_uring_submit, one io_uring_enter) and
// then waits for completions (a second one). On the thread that runs the ring's loop, the submit below
// only makes the entries visible to the kernel; the thread's next peek or wait passes them to the
// kernel in the same io_uring_enter that collects completions. Asio calls io_uring_submit with its ring
// mutex held (but in its shutdown, when nothing else runs); the peek and wait run without it and so
// never write the submission queue: they only tell the kernel how many published entries to take. Any
// other thread (a post that wakes the loop, a read started from elsewhere) enters the kernel at once,
// as before.
//
// The loop's thread is the one that last peeked or waited on the ring (kept in a small table beside
// the rings, not in the ring). It stores itself before it looks for published entries and a submitter
// publishes before it looks at the table (both sequentially consistent), so when the loop changes
// threads, either the new thread sees the entries or the submitter sees the new thread and enters.
namespace pgroute::uring_hooks {
struct LoopThread {
  std::atomic<io_uring*> ring{nullptr};
  std::atomic<unsigned> thread{0};  // tag of the thread running the loop; 0: none yet
};
inline constexpr int kRingSlots = 128;  // rings beyond this many are not deferred
inline LoopThread loop_threads[kRingSlots];
inline std::atomic<unsigned> next_thread_tag{1};
inline thread_local unsigned this_thread_tag = 0;
inline thread_local LoopThread* last_slot = nullptr;  // the slot this thread looked up last
// Past this many published entries the submit enters the kernel anyway (the queue must not fill).
inline constexpr unsigned kMaxDeferred = 512;

inline unsigned thread_tag() {
  if (this_thread_tag == 0) this_thread_tag = next_thread_tag.fetch_add(1, std::memory_order_relaxed);
  return this_thread_tag;
}

// The ring's slot, taking a free one when `claim` (a thread about to collect its completions).
inline LoopThread* slot_of(io_uring* ring, bool claim) {
  if (last_slot && last_slot->ring.load(std::memory_order_acquire) == ring) return last_slot;
  for (auto& slot : loop_threads) {
    if (slot.ring.load(std::memory_order_acquire) == ring) return last_slot = &slot;
  }
  if (!claim) return nullptr;
  for (auto& slot : loop_threads) {
    io_uring* none = nullptr;
    if (slot.ring.compare_exchange_strong(none, ring, std::memory_order_acq_rel)) return last_slot = &slot;
  }
  return nullptr;
}

// Entries published to the kernel and not yet taken by it.
inline unsigned published_unsubmitted(io_uring* ring) {
  return __atomic_load_n(ring->sq.ktail, __ATOMIC_SEQ_CST) - __atomic_load_n(ring->sq.khead, __ATOMIC_ACQUIRE);
}

// Makes the entries filled since the last call visible to the kernel (as liburing's submit does before
// it enters). Returns how many: the count Asio adds to its outstanding work, as for a submit the kernel
// took whole. `cancels` tells whether one of them is a cancel. Asio's ring mutex is held (or, in its
// shutdown, nothing else runs).
inline unsigned publish(io_uring* ring, bool& cancels) {
  io_uring_sq* sq = &ring->sq;
  unsigned added = sq->sqe_tail - sq->sqe_head;
  cancels = false;
  for (unsigned i = sq->sqe_head; i != sq->sqe_tail; ++i)
    cancels |= sq->sqes[i & sq->ring_mask].opcode == IORING_OP_ASYNC_CANCEL;
  if (added) {
    sq->sqe_head = sq->sqe_tail;
    __atomic_store_n(sq->ktail, sq->sqe_tail, __ATOMIC_SEQ_CST);
  }
  return added;
}

// Passes every published entry to the kernel; waits for `min_complete` completions.
inline int enter(io_uring* ring, unsigned min_complete) {
  return io_uring_enter(static_cast<unsigned>(ring->ring_fd), published_unsubmitted(ring), min_complete,
                        IORING_ENTER_GETEVENTS, nullptr);
}

// Called by a thread about to collect the ring's completions: it is the loop's thread from now on. The
// store is skipped when the tag is already this thread's: a loop changes threads only through Asio's
// scheduler mutex, which orders it with the other thread's earlier submissions.
inline void collecting(io_uring* ring) {
  LoopThread* slot = slot_of(ring, true);
  unsigned tag = thread_tag();
  if (slot && slot->thread.load(std::memory_order_relaxed) != tag) slot->thread.store(tag, std::memory_order_seq_cst);
}

// Whether this thread's submission can wait for its own next peek or wait.
inline bool may_defer(io_uring* ring) {
  LoopThread* slot = slot_of(ring, false);
  return slot && slot->thread.load(std::memory_order_seq_cst) == thread_tag() &&
         published_unsubmitted(ring) < kMaxDeferred;
}
}  // namespace pgroute::uring_hooks

inline int pgroute_io_uring_submit(io_uring* ring) {
  using namespace pgroute::uring_hooks;
  bool cancels = false;
  unsigned added = publish(ring, cancels);
  // A cancel is how Asio closes a socket with operations queued: it submits, then closes the fd. The
  // operations' entries must reach the kernel before that, or they would run on whatever file gets the
  // fd number next. So a cancel is submitted at once, with everything published before it.
  if (cancels || !may_defer(ring)) {
    // Entries the kernel does not take now (a full completion queue, an error) stay published and go
    // with the loop's next enter; Asio counts them as submitted either way.
    io_uring_enter(static_cast<unsigned>(ring->ring_fd), published_unsubmitted(ring), 0, 0, nullptr);
  }
  return static_cast<int>(added);
}
#define io_uring_submit pgroute_io_uring_submit

inline int pgroute_io_uring_peek_cqe(io_uring* ring, io_uring_cqe** cqe) {
  using namespace pgroute::uring_hooks;
  collecting(ring);
  if (published_unsubmitted(ring)) enter(ring, 0);
  return io_uring_peek_cqe(ring, cqe);
}
#define io_uring_peek_cqe pgroute_io_uring_peek_cqe

inline int pgroute_io_uring_wait_cqe(io_uring* ring, io_uring_cqe** cqe) {
  using namespace pgroute::uring_hooks;
  collecting(ring);
  // Submits and, when no completion is there yet, blocks in the same call. Should the kernel refuse
  // the entries (a full completion queue), they stay published: the wait below reaps what is there
  // and the loop's next peek or wait submits them again.
  if (published_unsubmitted(ring)) enter(ring, io_uring_cq_ready(ring) ? 0 : 1);
  return io_uring_wait_cqe(ring, cqe);  // finds a completion that came without a system call
}
#define io_uring_wait_cqe pgroute_io_uring_wait_cqe

// A ring torn down gives its slot back (another ring may get its address).
inline void pgroute_io_uring_queue_exit(io_uring* ring) {
  using namespace pgroute::uring_hooks;
  if (LoopThread* slot = slot_of(ring, false)) {
    slot->thread.store(0, std::memory_order_relaxed);
    slot->ring.store(nullptr, std::memory_order_release);
  }
  io_uring_queue_exit(ring);
}
#define io_uring_queue_exit pgroute_io_uring_queue_exit

#endif  // BOOST_VERSION 1.81
#endif  // BOOST_ASIO_HAS_IO_URING
