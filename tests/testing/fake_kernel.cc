// Fakes of the supervisor's kernel seams; see fake_kernel.h.
#include "tests/testing/fake_kernel.h"

#include <cerrno>
#include <cstring>

#include "gtest/gtest.h"

namespace zerocell::testing {

using sandbox::supervisor::Answer;
using sandbox::supervisor::Notification;

void FakeGuestMemory::Map(uint64_t addr, std::string bytes) { regions_[addr] = std::move(bytes); }

void FakeGuestMemory::Unmap(uint64_t addr) { regions_.erase(addr); }

std::string* FakeGuestMemory::Find(uint64_t addr, size_t len, uint64_t* offset) const {
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return nullptr;
  --it;
  const uint64_t start = it->first;
  const uint64_t size = it->second.size();
  if (addr - start > size || len > size - (addr - start)) return nullptr;
  *offset = addr - start;
  return &it->second;
}

std::string FakeGuestMemory::Bytes(uint64_t addr, size_t len) const {
  uint64_t off = 0;
  std::string* region = Find(addr, len, &off);
  if (region == nullptr) {
    ADD_FAILURE() << "fake guest memory: [0x" << std::hex << addr << ", +" << std::dec << len
                  << ") is not mapped";
    return "";
  }
  return region->substr(off, len);
}

int FakeGuestMemory::Read(uint64_t addr, void* out, size_t len) const {
  if (len == 0) return 0;
  ++reads_;
  uint64_t off = 0;
  std::string* region = Find(addr, len, &off);
  if (region == nullptr) return EFAULT;
  memcpy(out, region->data() + off, len);
  if (after_read) after_read(addr, len);
  return 0;
}

int FakeGuestMemory::Write(uint64_t addr, const void* data, size_t len) const {
  if (len == 0) return 0;
  ++writes_;
  uint64_t off = 0;
  std::string* region = Find(addr, len, &off);
  if (region == nullptr) return EFAULT;
  memcpy(region->data() + off, data, len);
  return 0;
}

uint64_t FakeNotifier::Push(int64_t nr, std::vector<uint64_t> args, uint32_t arch) {
  Notification n;
  n.id = next_id_++;
  n.pid = pid_;
  n.arch = arch;
  n.nr = nr;
  for (size_t i = 0; i < args.size() && i < 6; ++i) n.args[i] = args[i];
  queue_.push_back(n);
  return n.id;
}

absl::StatusOr<Notification> FakeNotifier::Receive() {
  if (queue_.empty()) return absl::InternalError("fake notifier: nothing queued");
  Notification n = queue_.front();
  queue_.pop_front();
  if (n.id == 0) return absl::NotFoundError("the notified caller is gone");
  return n;
}

bool FakeNotifier::IdValid(uint64_t id) {
  ++id_checks_;
  if (auto it = invalidate_after_.find(id); it != invalidate_after_.end()) {
    if (--it->second < 0) invalid_.insert(id);
  }
  return !invalid_.count(id);
}

absl::Status FakeNotifier::Respond(const Answer& answer) {
  if (invalid_.count(answer.id)) return absl::NotFoundError("the notified caller is gone");
  answers_.push_back(answer);
  return absl::OkStatus();
}

const Answer* FakeNotifier::AnswerFor(uint64_t id) const {
  for (const Answer& a : answers_) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

absl::StatusOr<int> FakeNotifier::AddFd(uint64_t id, int src_fd, int target_fd) {
  if (src_fd < 0) return absl::InvalidArgumentError("AddFd of a closed fd");
  added_fds_.emplace_back(id, target_fd);
  return target_fd;
}

}  // namespace zerocell::testing
