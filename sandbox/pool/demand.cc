// Demand windows and the parked-sandbox target; see demand.h.
#include "sandbox/pool/demand.h"

#include <algorithm>
#include <cmath>

namespace zerocell::sandbox::pool {

void Demand::Roll(absl::Time now, absl::Duration window) {
  const absl::Duration elapsed = now - window_start_;
  if (elapsed < window) return;
  // A window with no activity at all ends the memory of the one before it.
  const bool skipped = elapsed >= 2 * window;
  last_rate_ = skipped ? 0 : static_cast<double>(claims_) / absl::ToDoubleSeconds(elapsed);
  last_peak_active_ = skipped ? active_ : peak_active_;
  claims_ = 0;
  peak_active_ = active_;
  window_start_ = now;
}

void Demand::OnClaim(absl::Time now) {
  last_claim_ = now;
  ++claims_;
  ++active_;
  peak_active_ = std::max(peak_active_, active_);
}

void Demand::OnRunEnd() {
  if (active_ > 0) --active_;
}

int Demand::Target(absl::Time now, absl::Duration prestart_time, const SizingLimits& limits) {
  Roll(now, limits.window);
  if (Idle(now, limits)) return 0;
  const double current_rate =
      static_cast<double>(claims_) /
      std::max(absl::ToDoubleSeconds(now - window_start_), absl::ToDoubleSeconds(limits.window));
  const double rate = std::max(last_rate_, current_rate);
  const int concurrent = std::max(last_peak_active_, peak_active_);
  const int in_refill = static_cast<int>(std::ceil(rate * absl::ToDoubleSeconds(prestart_time)));
  const int want = concurrent + in_refill;
  return std::clamp(want, std::min(limits.min_per_image, limits.max_per_image),
                    limits.max_per_image);
}

}  // namespace zerocell::sandbox::pool
