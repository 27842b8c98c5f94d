// Fakes of the supervisor's kernel seams (Notifier, GuestMemory), so that the dispatcher and
// every syscall handler are unit-tested without a process, in microseconds.
#ifndef ZEROCELL_TESTS_TESTING_FAKE_KERNEL_H_
#define ZEROCELL_TESTS_TESTING_FAKE_KERNEL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sandbox/supervisor/guest_memory.h"
#include "sandbox/supervisor/notifier.h"

namespace zerocell::testing {

// Guest memory as a set of mapped regions. Accesses must lie inside one region, else EFAULT
// (as process_vm_* answer for an unmapped or partly mapped range). Not thread-safe.
class FakeGuestMemory : public sandbox::supervisor::GuestMemory {
 public:
  // Maps [addr, addr + bytes.size()) holding `bytes` (zeros when only a size is given).
  void Map(uint64_t addr, std::string bytes);
  void Map(uint64_t addr, size_t len) { Map(addr, std::string(len, '\0')); }
  void Unmap(uint64_t addr);
  // The bytes at [addr, addr + len); "" (and a test failure) when not mapped.
  std::string Bytes(uint64_t addr, size_t len) const;

  // Called after every Read, with its range: a test changes memory here to play a guest that
  // rewrites its buffers while the supervisor decides (the copy the handler made must win).
  std::function<void(uint64_t addr, size_t len)> after_read;

  int Read(uint64_t addr, void* out, size_t len) const override;
  int Write(uint64_t addr, const void* data, size_t len) const override;

  int64_t reads() const { return reads_; }
  int64_t writes() const { return writes_; }

 private:
  // The region holding [addr, addr + len), or nullptr.
  std::string* Find(uint64_t addr, size_t len, uint64_t* offset) const;
  mutable std::map<uint64_t, std::string> regions_;
  mutable int64_t reads_ = 0;
  mutable int64_t writes_ = 0;
};

// A notifier fed by the test: Receive() hands out queued notifications, Respond() records the
// answers, IdValid() says yes unless the test invalidated the id (the guest died and its
// memory may now be another process's).
class FakeNotifier : public sandbox::supervisor::Notifier {
 public:
  // Queues a call; returns its id (ids count from 1).
  uint64_t Push(int64_t nr, std::vector<uint64_t> args = {}, uint32_t arch = 0xC000003E);
  // Queues a receive that finds the caller gone (NOT_FOUND), as the kernel's ENOENT.
  void PushVanished() { queue_.push_back({}); }
  // The caller's pid of the calls pushed from now on (default 4242).
  void set_pid(uint32_t pid) { pid_ = pid; }
  // From now on IdValid(id) is false (also calls after the next IdValid of it, see
  // invalidate_after_checks).
  void Invalidate(uint64_t id) { invalid_.insert(id); }
  // The id becomes invalid once IdValid has been asked `checks` times: a guest that dies between
  // the handler's memory read and the answer.
  void InvalidateAfterChecks(uint64_t id, int checks) { invalidate_after_[id] = checks; }

  absl::StatusOr<sandbox::supervisor::Notification> Receive() override;
  bool IdValid(uint64_t id) override;
  absl::Status Respond(const sandbox::supervisor::Answer& answer) override;
  // Records the injection (id, target fd) and returns the target fd.
  absl::StatusOr<int> AddFd(uint64_t id, int src_fd, int target_fd) override;
  const std::vector<std::pair<uint64_t, int>>& added_fds() const { return added_fds_; }

  const std::vector<sandbox::supervisor::Answer>& answers() const { return answers_; }
  // The answer given to `id`, or nullptr when none was.
  const sandbox::supervisor::Answer* AnswerFor(uint64_t id) const;
  int id_checks() const { return id_checks_; }

 private:
  std::deque<sandbox::supervisor::Notification> queue_;  // id 0: a vanished caller
  std::vector<sandbox::supervisor::Answer> answers_;
  std::set<uint64_t> invalid_;
  std::map<uint64_t, int> invalidate_after_;
  uint64_t next_id_ = 1;
  uint32_t pid_ = 4242;
  int id_checks_ = 0;
  std::vector<std::pair<uint64_t, int>> added_fds_;
};

}  // namespace zerocell::testing

#endif  // ZEROCELL_TESTS_TESTING_FAKE_KERNEL_H_
