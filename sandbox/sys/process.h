// RAII owner of a child process: killed and reaped on destruction unless already reaped.
#ifndef ZEROCELL_SANDBOX_SYS_PROCESS_H_
#define ZEROCELL_SANDBOX_SYS_PROCESS_H_

#include <sys/resource.h>
#include <sys/types.h>

#include "absl/status/status.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::sys {

class Process {
 public:
  Process(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  bool reaped() const { return reaped_; }
  int pidfd() const { return pidfd_.get(); }
  void Kill();
  // Waits for the process to end; fills its wait status and resource usage. Once only.
  absl::Status Reap(int* wait_status, rusage* usage);

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  bool reaped_ = false;
};

}  // namespace zerocell::sandbox::sys

#endif  // ZEROCELL_SANDBOX_SYS_PROCESS_H_
