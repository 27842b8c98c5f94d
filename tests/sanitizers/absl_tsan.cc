// TSan builds only: tells ThreadSanitizer about abseil's Mutex, CondVar and Notification, whose
// lock and wait paths live in Debian's uninstrumented libabsl_synchronization (futex calls TSan
// cannot see), so that it sees their happens-before edges instead of reporting every guarded access
// as a race. cmake/Hardening.cmake links this into every program of a ZEROCELL_SANITIZE=thread
// build and redirects the calls with `ld --wrap`; the wrappers annotate and call the real function.
// The ABI of the wrapped members: `this` first, Condition by reference, Duration and Time (16
// trivially copyable bytes) in two registers, as declared below.
#include <sanitizer/tsan_interface.h>

#include <cstdint>

namespace {

struct Duration {  // absl::Duration's representation (passed by value)
  int64_t hi;
  uint32_t lo;
};
struct Time {  // absl::Time: one Duration
  Duration rep;
};

// Await and Unlock evaluate waiters' conditions inside the real call, on whichever thread; the
// pre/post pairs make TSan ignore the accesses between them, so those reads are not reported.
void AnnotateUnlock(void* mu, unsigned flags) {
  __tsan_mutex_pre_unlock(mu, flags);
  __tsan_mutex_post_unlock(mu, flags);
}
void AnnotateRelock(void* mu) { __tsan_mutex_pre_lock(mu, 0); }

}  // namespace

#define REAL(sym) __real_##sym
#define WRAP(sym) __wrap_##sym

extern "C" {
// Mutex::Lock, Unlock, ReaderLock, ReaderUnlock, TryLock, ReaderTryLock.
void REAL(_ZN4absl7debian35Mutex4LockEv)(void* mu);
void REAL(_ZN4absl7debian35Mutex6UnlockEv)(void* mu);
void REAL(_ZN4absl7debian35Mutex10ReaderLockEv)(void* mu);
void REAL(_ZN4absl7debian35Mutex12ReaderUnlockEv)(void* mu);
bool REAL(_ZN4absl7debian35Mutex7TryLockEv)(void* mu);
bool REAL(_ZN4absl7debian35Mutex13ReaderTryLockEv)(void* mu);
// Mutex::LockWhen, Await, AwaitWithTimeout, AwaitWithDeadline; ~Mutex.
void REAL(_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE)(void* mu, const void* cond);
void REAL(_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE)(void* mu, const void* cond);
bool REAL(_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE)(
    void* mu, const void* cond, Duration timeout);
bool REAL(_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE)(void* mu,
                                                                                 const void* cond,
                                                                                 Time deadline);
void REAL(_ZN4absl7debian35MutexD1Ev)(void* mu);
// CondVar::Wait, WaitWithTimeout, WaitWithDeadline (called and returning with `mu` held).
void REAL(_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE)(void* cv, void* mu);
bool REAL(_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE)(void* cv, void* mu,
                                                                                Duration timeout);
bool REAL(_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE)(void* cv, void* mu,
                                                                             Time deadline);
// Notification::Notify, WaitForNotification(WithTimeout|WithDeadline), HasBeenNotifiedInternal.
void REAL(_ZN4absl7debian312Notification6NotifyEv)(void* n);
void REAL(_ZNK4absl7debian312Notification19WaitForNotificationEv)(const void* n);
bool REAL(_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE)(
    const void* n, Duration timeout);
bool REAL(_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE)(
    const void* n, Time deadline);

void WRAP(_ZN4absl7debian35Mutex4LockEv)(void* mu) {
  __tsan_mutex_pre_lock(mu, 0);
  REAL(_ZN4absl7debian35Mutex4LockEv)(mu);
  __tsan_mutex_post_lock(mu, 0, 0);
}
void WRAP(_ZN4absl7debian35Mutex6UnlockEv)(void* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  REAL(_ZN4absl7debian35Mutex6UnlockEv)(mu);
  __tsan_mutex_post_unlock(mu, 0);
}
void WRAP(_ZN4absl7debian35Mutex10ReaderLockEv)(void* mu) {
  __tsan_mutex_pre_lock(mu, __tsan_mutex_read_lock);
  REAL(_ZN4absl7debian35Mutex10ReaderLockEv)(mu);
  __tsan_mutex_post_lock(mu, __tsan_mutex_read_lock, 0);
}
void WRAP(_ZN4absl7debian35Mutex12ReaderUnlockEv)(void* mu) {
  __tsan_mutex_pre_unlock(mu, __tsan_mutex_read_lock);
  REAL(_ZN4absl7debian35Mutex12ReaderUnlockEv)(mu);
  __tsan_mutex_post_unlock(mu, __tsan_mutex_read_lock);
}
bool WRAP(_ZN4absl7debian35Mutex7TryLockEv)(void* mu) {
  __tsan_mutex_pre_lock(mu, __tsan_mutex_try_lock);
  const bool locked = REAL(_ZN4absl7debian35Mutex7TryLockEv)(mu);
  __tsan_mutex_post_lock(mu, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
                         0);
  return locked;
}
bool WRAP(_ZN4absl7debian35Mutex13ReaderTryLockEv)(void* mu) {
  const unsigned flags = __tsan_mutex_try_lock | __tsan_mutex_read_lock;
  __tsan_mutex_pre_lock(mu, flags);
  const bool locked = REAL(_ZN4absl7debian35Mutex13ReaderTryLockEv)(mu);
  __tsan_mutex_post_lock(mu, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}
void WRAP(_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE)(void* mu, const void* cond) {
  __tsan_mutex_pre_lock(mu, 0);
  REAL(_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE)(mu, cond);
  __tsan_mutex_post_lock(mu, 0, 0);
}
// Await*: called and returning with the mutex held; it is released while waiting.
void WRAP(_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE)(void* mu, const void* cond) {
  AnnotateUnlock(mu, 0);
  AnnotateRelock(mu);
  REAL(_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE)(mu, cond);
  __tsan_mutex_post_lock(mu, 0, 0);
}
bool WRAP(_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE)(
    void* mu, const void* cond, Duration timeout) {
  AnnotateUnlock(mu, 0);
  AnnotateRelock(mu);
  const bool met = REAL(_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE)(
      mu, cond, timeout);
  __tsan_mutex_post_lock(mu, 0, 0);
  return met;
}
bool WRAP(_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE)(void* mu,
                                                                                 const void* cond,
                                                                                 Time deadline) {
  AnnotateUnlock(mu, 0);
  AnnotateRelock(mu);
  const bool met = REAL(_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE)(
      mu, cond, deadline);
  __tsan_mutex_post_lock(mu, 0, 0);
  return met;
}
void WRAP(_ZN4absl7debian35MutexD1Ev)(void* mu) {
  __tsan_mutex_destroy(mu, 0);
  REAL(_ZN4absl7debian35MutexD1Ev)(mu);
}
// CondVar waits release `mu` while waiting and hold it again when they return: without this,
// TSan would see the waiter keep `mu` and report the signaller's lock as a double lock.
void WRAP(_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE)(void* cv, void* mu) {
  AnnotateUnlock(mu, 0);
  AnnotateRelock(mu);
  REAL(_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE)(cv, mu);
  __tsan_mutex_post_lock(mu, 0, 0);
}
bool WRAP(_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE)(void* cv, void* mu,
                                                                                Duration timeout) {
  AnnotateUnlock(mu, 0);
  AnnotateRelock(mu);
  const bool timed_out =
      REAL(_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE)(cv, mu, timeout);
  __tsan_mutex_post_lock(mu, 0, 0);
  return timed_out;
}
bool WRAP(_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE)(void* cv, void* mu,
                                                                             Time deadline) {
  AnnotateUnlock(mu, 0);
  AnnotateRelock(mu);
  const bool timed_out =
      REAL(_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE)(cv, mu, deadline);
  __tsan_mutex_post_lock(mu, 0, 0);
  return timed_out;
}
// Notification: Notify releases, a wait that saw it acquires (on the Notification's address).
void WRAP(_ZN4absl7debian312Notification6NotifyEv)(void* n) {
  __tsan_release(n);
  REAL(_ZN4absl7debian312Notification6NotifyEv)(n);
}
void WRAP(_ZNK4absl7debian312Notification19WaitForNotificationEv)(const void* n) {
  REAL(_ZNK4absl7debian312Notification19WaitForNotificationEv)(n);
  __tsan_acquire(const_cast<void*>(n));
}
bool WRAP(_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE)(
    const void* n, Duration timeout) {
  const bool notified = REAL(
      _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE)(n, timeout);
  if (notified) __tsan_acquire(const_cast<void*>(n));
  return notified;
}
bool WRAP(_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE)(
    const void* n, Time deadline) {
  const bool notified = REAL(
      _ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE)(n, deadline);
  if (notified) __tsan_acquire(const_cast<void*>(n));
  return notified;
}
}  // extern "C"
