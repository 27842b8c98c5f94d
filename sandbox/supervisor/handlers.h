// The table of emulated syscalls: number -> handler. A missing entry is a policy violation.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_HANDLERS_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_HANDLERS_H_

#include <array>

#include "sandbox/supervisor/guest_state.h"

namespace zerocell::sandbox::supervisor {

using Handler = Reply (*)(GuestState& guest, const Call& call);
inline constexpr int kMaxSyscall = 512;
using HandlerTable = std::array<Handler, kMaxSyscall>;

void RegisterIoHandlers(HandlerTable& table);       // channels and descriptors
void RegisterProcessHandlers(HandlerTable& table);  // clock, random, identity, memory, signals
void RegisterFsHandlers(HandlerTable& table);       // the guest's file system (fs_handlers.cc)
void RegisterForkHandlers(HandlerTable& table);     // processes of the run (fork_handlers.cc)

// Built once, immutable afterwards.
const HandlerTable& Handlers();

// Handlers that answer every call the same way: an errno, or a value.
template <int kErrno>
Reply Fail(GuestState&, const Call&) {
  return Reply::Error(kErrno);
}
template <int64_t kValue>
Reply Constant(GuestState&, const Call&) {
  return Reply::Value(kValue);
}

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_HANDLERS_H_
