// A sandbox parked in the loader: image mapped, filter installed, waiting for its request.
#ifndef ZEROCELL_SANDBOX_PARKED_SANDBOX_H_
#define ZEROCELL_SANDBOX_PARKED_SANDBOX_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/sys/process.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox {

// Made by Engine::Prestart, consumed by Engine::RunParked. Owns the loader process: destroying an
// unreleased sandbox kills and reaps it. No guest code has run in it, and nothing of any request
// is in it, so it can serve any request for its image.
class ParkedSandbox {
 public:
  ParkedSandbox(const ParkedSandbox&) = delete;
  ParkedSandbox& operator=(const ParkedSandbox&) = delete;
  ~ParkedSandbox() = default;

  // SHA-256 (hex) of the image it has mapped.
  const std::string& image_sha256() const { return image_sha256_; }
  pid_t pid() const { return process_.pid(); }
  // False once the loader process has ended (killed from outside, out of memory...). A sandbox
  // that is alive now may still die before it is released; RunParked then says so (ABORTED).
  bool Alive() const;
  // When it parked, and how long spawning and parking took.
  absl::Time parked_at() const { return parked_at_; }
  absl::Duration prestart_time() const { return prestart_time_; }

 private:
  friend class Engine;
  ParkedSandbox(sys::Process process, std::string image_sha256)
      : process_(std::move(process)), image_sha256_(std::move(image_sha256)) {}

  sys::Process process_;
  std::string image_sha256_;
  sys::UniqueFd listener_;        // seccomp listener; the park read is pending on it
  sys::UniqueFd statm_, status_;  // its /proc files, for the supervisor's memory accounting
  uint64_t park_id_ = 0;          // notification id of the park read
  uint64_t mailbox_ = 0;          // the read's buffer: where the GoHeader goes
  launch::Ready ready_ = {};
  bool cpuid_faulting_ = false;  // the loader switched CPUID faulting on
  absl::Time parked_at_;
  absl::Duration prestart_time_;
};

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_PARKED_SANDBOX_H_
