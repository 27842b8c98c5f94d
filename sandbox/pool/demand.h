// Per-image demand tracking and the parked-sandbox target it implies (pure, no threads).
#ifndef ZEROCELL_SANDBOX_POOL_DEMAND_H_
#define ZEROCELL_SANDBOX_POOL_DEMAND_H_

#include <cstdint>

#include "absl/time/time.h"

namespace zerocell::sandbox::pool {

struct SizingLimits {
  int min_per_image = 1;  // kept parked while the image is in use
  int max_per_image = 8;
  absl::Duration idle_retire = absl::Seconds(60);  // unclaimed this long: nothing kept parked
  absl::Duration window = absl::Seconds(1);        // demand is measured over windows this long
};

// Claims and concurrent runs of one image, measured over fixed windows. The target covers the
// runs seen at once (each needs its own sandbox) plus the claims expected while one refill takes
// place (rate x prestart time), within [min_per_image, max_per_image]; zero once idle.
class Demand {
 public:
  explicit Demand(absl::Time now) : window_start_(now), last_claim_(now) {}

  void OnClaim(absl::Time now);  // a run of this image starts (warm or cold)
  void OnRunEnd();
  // Parked sandboxes this image should have now.
  int Target(absl::Time now, absl::Duration prestart_time, const SizingLimits& limits);
  bool Idle(absl::Time now, const SizingLimits& limits) const {
    return active_ == 0 && now - last_claim_ >= limits.idle_retire;
  }
  absl::Time last_claim() const { return last_claim_; }
  int active() const { return active_; }

 private:
  void Roll(absl::Time now, absl::Duration window);

  absl::Time window_start_;
  absl::Time last_claim_;
  int active_ = 0;
  int peak_active_ = 0;       // in the current window
  int64_t claims_ = 0;        // in the current window
  int last_peak_active_ = 0;  // in the previous window
  double last_rate_ = 0;      // claims per second in the previous window
};

}  // namespace zerocell::sandbox::pool

#endif  // ZEROCELL_SANDBOX_POOL_DEMAND_H_
