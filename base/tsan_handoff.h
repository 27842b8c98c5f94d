// ThreadSanitizer annotations for hand-offs through gRPC (empty in builds without TSan).
#ifndef ZEROCELL_BASE_TSAN_HANDOFF_H_
#define ZEROCELL_BASE_TSAN_HANDOFF_H_

// Why: Debian's gRPC is not instrumented, so TSan cannot see the synchronization by which gRPC
// hands a call between our threads and its own (its completion queues, combiners and executor
// use atomics and futexes inside libgrpc). Each boundary says it instead, on the reactor or call
// object: RELEASE just before giving gRPC an operation (StartRead, StartWrite*, Finish, returning
// a new reactor) and ACQUIRE at the top of each reaction gRPC calls (OnReadDone, OnWriteDone,
// OnCancel, OnDone). gRPC does order these: a
// reaction runs after the operation it completes was started, and OnDone after every other
// reaction has returned (possibly on another thread, with nothing of ours between: so a reaction
// also RELEASEs when it returns, which ZEROCELL_TSAN_REACTION does). Keyed on one object per call,
// a reaction also acquires earlier hand-offs gRPC did not order it after; only data shared without
// a lock of ours could be hidden by that, and the reactors keep such data to one thread at a time
// (their comments say which).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZEROCELL_TSAN_ENABLED 1
#endif
#endif
#if !defined(ZEROCELL_TSAN_ENABLED) && defined(__SANITIZE_THREAD__)
#define ZEROCELL_TSAN_ENABLED 1
#endif

#ifdef ZEROCELL_TSAN_ENABLED
#include <sanitizer/tsan_interface.h>
#define ZEROCELL_TSAN_RELEASE(object) \
  __tsan_release(const_cast<void*>(static_cast<const volatile void*>(object)))
#define ZEROCELL_TSAN_ACQUIRE(object) \
  __tsan_acquire(const_cast<void*>(static_cast<const volatile void*>(object)))

namespace zerocell {
// ACQUIRE when a reaction starts, RELEASE when it returns. Not for OnDone (it frees the object).
class TsanReactionScope {
 public:
  explicit TsanReactionScope(const volatile void* object)
      : object_(const_cast<void*>(static_cast<const volatile void*>(object))) {
    __tsan_acquire(object_);
  }
  ~TsanReactionScope() { __tsan_release(object_); }
  TsanReactionScope(const TsanReactionScope&) = delete;
  TsanReactionScope& operator=(const TsanReactionScope&) = delete;

 private:
  void* const object_;
};
}  // namespace zerocell
#define ZEROCELL_TSAN_REACTION(object) \
  const ::zerocell::TsanReactionScope zerocell_tsan_reaction_scope(object)
#else
#define ZEROCELL_TSAN_RELEASE(object) static_cast<void>(object)
#define ZEROCELL_TSAN_ACQUIRE(object) static_cast<void>(object)
#define ZEROCELL_TSAN_REACTION(object) static_cast<void>(object)
#endif

#endif  // ZEROCELL_BASE_TSAN_HANDOFF_H_
