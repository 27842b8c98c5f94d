// Live view of channel writes while a guest runs (e.g. the CLI streaming stdout as it comes).
#ifndef ZEROCELL_SANDBOX_OUTPUT_OBSERVER_H_
#define ZEROCELL_SANDBOX_OUTPUT_OBSERVER_H_

#include <cstdint>
#include <string_view>

namespace zerocell::sandbox {

// Sees the bytes of writable channels as the guest writes them, on the thread running the guest.
// A slow observer slows the guest (it waits in its write call), never the result.
class OutputObserver {
 public:
  virtual ~OutputObserver() = default;
  // `channel` indexes Manifest::channels(); `offset` is where `bytes` landed in the channel.
  virtual void OnWrite(int channel, uint64_t offset, std::string_view bytes) = 0;
  // True: the observer takes the bytes of `channel` away (e.g. to a client stream or a terminal)
  // when it is write-only and sequential. The run then keeps none of them (the result's output
  // is empty), so its memory does not grow with the output, and one write call moves at most
  // kStreamedWriteMax bytes (a short write, as a pipe may make). Output limit, quotas, counters
  // and etags are unchanged.
  virtual bool takes_output(int /*channel*/) const { return false; }
};

inline constexpr uint64_t kStreamedWriteMax = 256 << 10;

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_OUTPUT_OBSERVER_H_
