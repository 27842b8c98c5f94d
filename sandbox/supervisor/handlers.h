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

// Built once, immutable afterwards.
const HandlerTable& Handlers();

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_HANDLERS_H_
