// The guest's memory as the supervisor sees it: a seam (the kernel in production, a fake in
// handler unit tests) over process_vm_readv/writev.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_GUEST_MEMORY_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_GUEST_MEMORY_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace zerocell::sandbox::supervisor {

// Every call returns 0 on success or a positive errno for the guest (EFAULT for a bad range):
// the whole range moves or nothing counts. Security decisions are made on the copies these
// return, never on guest memory itself (the guest may change it at any moment).
class GuestMemory {
 public:
  virtual ~GuestMemory() = default;

  virtual int Read(uint64_t addr, void* out, size_t len) const = 0;
  virtual int Write(uint64_t addr, const void* data, size_t len) const = 0;

  // Reads a NUL-terminated string of at most max_len bytes; ENAMETOOLONG past that. Reads in
  // pieces that stop at 256-byte boundaries, so a string at the end of a mapping still reads.
  int ReadString(uint64_t addr, size_t max_len, std::string* out) const;

  template <typename T>
  int ReadValue(uint64_t addr, T* out) const {
    return Read(addr, out, sizeof(T));
  }
  template <typename T>
  int WriteValue(uint64_t addr, const T& value) const {
    return Write(addr, &value, sizeof(T));
  }
};

// A running guest's memory, through process_vm_readv/writev.
class ProcessMemory final : public GuestMemory {
 public:
  explicit ProcessMemory(pid_t pid) : pid_(pid) {}
  int Read(uint64_t addr, void* out, size_t len) const override;
  int Write(uint64_t addr, const void* data, size_t len) const override;

 private:
  pid_t pid_;
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_GUEST_MEMORY_H_
