// Reads and writes the guest's memory from the supervisor (process_vm_readv/writev).
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_GUEST_MEMORY_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_GUEST_MEMORY_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace zerocell::sandbox::supervisor {

// Every call returns 0 on success or a positive errno for the guest (EFAULT for a bad range).
// Security decisions are made on the copies these return, never on guest memory itself.
class GuestMemory {
 public:
  explicit GuestMemory(pid_t pid) : pid_(pid) {}

  int Read(uint64_t addr, void* out, size_t len) const;
  int Write(uint64_t addr, const void* data, size_t len) const;
  // Reads a NUL-terminated string of at most max_len bytes; ENAMETOOLONG past that.
  int ReadString(uint64_t addr, size_t max_len, std::string* out) const;

  template <typename T>
  int ReadValue(uint64_t addr, T* out) const {
    return Read(addr, out, sizeof(T));
  }
  template <typename T>
  int WriteValue(uint64_t addr, const T& value) const {
    return Write(addr, &value, sizeof(T));
  }

 private:
  pid_t pid_;
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_GUEST_MEMORY_H_
