// Guest state: channels, descriptors, virtual clock, seeded random; see guest_state.h.
#include "sandbox/supervisor/guest_state.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/sha256.h"

namespace zerocell::sandbox::supervisor {

GuestState::GuestState(const Manifest& manifest, std::unique_ptr<GuestMemory> memory, int pidfd)
    : manifest_(manifest) {
  processes_.push_back(std::make_unique<GuestProcess>(0, pidfd, std::move(memory),
                                                      FdTable(manifest.handle_order())));
  current_ = processes_.front().get();
  current_->own_pid = kGuestPid;
  current_->parent_pid = kGuestPpid;
  current_->mem->limit_bytes = manifest.memory_bytes();
  realtime_base_ns_ = absl::ToUnixNanos(manifest.clock_start());
  absl::StatusOr<std::unique_ptr<const fs::GuestFs>> empty = fs::GuestFs::Create({});
  fs_ = empty.ok() ? std::shared_ptr<const fs::GuestFs>(*std::move(empty)) : nullptr;
  if (fs_ == nullptr) abort();  // an empty skeleton cannot fail but for memory
  current_->cwd = fs_->Root();
}

void GuestState::set_fs(std::shared_ptr<const fs::GuestFs> fs) {
  fs_ = std::move(fs);
  first().cwd = fs_->Root();
}

absl::Status GuestState::Open(absl::Span<InputSource* const> inputs) {
  const std::vector<ChannelSpec>& specs = manifest_.channels();
  if (!inputs.empty() && inputs.size() != specs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs: ", inputs.size(), " given for ", specs.size(), " channels"));
  }
  channels_.clear();
  channels_.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    InputSource* source = inputs.empty() ? nullptr : inputs[i];
    if (source == nullptr && specs[i].readable()) {
      // The manifest outlives the run: its bytes are read in place, not copied.
      byte_inputs_.push_back(BytesInput(specs[i].initial_bytes));
      source = byte_inputs_.back().get();
    }
    absl::StatusOr<std::unique_ptr<Channel>> channel = Channel::Open(specs[i], source);
    if (!channel.ok()) {
      return absl::Status(channel.status().code(),
                          absl::StrCat("channels[", i, "]: ", channel.status().message()));
    }
    channels_.push_back(*std::move(channel));
  }
  return absl::OkStatus();
}

int GuestState::FindAlias(std::string_view alias) const {
  for (size_t i = 0; i < channels_.size(); ++i) {
    if (channels_[i]->spec().alias == alias) return static_cast<int>(i);
  }
  return -1;
}

int64_t GuestState::PeakRssBytes() const {
  int64_t peak = released_peak_rss_;
  for (const std::unique_ptr<GuestProcess>& p : processes_) {
    peak = std::max(peak, p->mem->peak_rss_bytes);
  }
  return peak;
}

uint64_t GuestState::output_capacity() const {
  const uint64_t limit = static_cast<uint64_t>(manifest_.output_limit_bytes());
  return output_bytes_ >= limit ? 0 : limit - output_bytes_;
}

// The page's `ns` is its first field (vdso::ClockPage).
void GuestState::LoadClock() {
  int64_t ns = 0;
  // Why only forward: the page is the guest's memory; a guest that writes it can stall its own
  // clock's reads in the vDSO, never move the supervisor's answers back.
  if (clock_page_ != 0 && memory().ReadValue(clock_page_, &ns) == 0 && ns > clock_ns_) {
    clock_ns_ = ns;
  }
}

void GuestState::StoreClock() {
  if (clock_page_ != 0) (void)memory().WriteValue(clock_page_, clock_ns_);
}

int64_t GuestState::TickClock() {
  LoadClock();
  const int64_t now = clock_ns_;
  clock_ns_ = now > INT64_MAX - 1000 ? INT64_MAX : now + 1000;
  StoreClock();
  return now;
}

void GuestState::AdvanceClock(int64_t ns) {
  if (ns <= 0) return;
  LoadClock();
  clock_ns_ = ns > INT64_MAX - clock_ns_ ? INT64_MAX : clock_ns_ + ns;
  StoreClock();
}

int64_t GuestState::clock_ns() {
  LoadClock();
  return clock_ns_;
}

void GuestState::RandomBytes(char* out, size_t len) {
  while (len > 0) {
    if (random_used_ == random_pool_.size()) {
      random_pool_ =
          base::SeededBytes(manifest_.random_seed(), "zerocell-getrandom", random_counter_++, 4096);
      random_used_ = 0;
    }
    const size_t n = std::min(len, random_pool_.size() - random_used_);
    memcpy(out, random_pool_.data() + random_used_, n);
    random_used_ += n;
    out += n;
    len -= n;
  }
}

void GuestState::Stop(Outcome outcome, std::string detail, Violation violation) {
  if (stop_.has_value()) return;
  stop_ = StopReason{outcome, std::move(detail), std::move(violation)};
}

bool GuestState::Exhausted() {
  if (stop_.has_value() || cancelled_) return true;
  if (budget_ == nullptr) return false;
  const RunBudget::Verdict verdict = budget_->Check();
  if (verdict == RunBudget::Verdict::kOk) return false;
  EndFor(verdict);
  return true;
}

void GuestState::EndFor(RunBudget::Verdict verdict) {
  switch (verdict) {
    case RunBudget::Verdict::kOk:
      return;
    case RunBudget::Verdict::kCancelled:
      cancelled_ = true;
      return;
    case RunBudget::Verdict::kTimeout:
      Stop(Outcome::kTimeout,
           absl::StrCat("wall-clock timeout of ", absl::FormatDuration(manifest_.timeout())));
      return;
    case RunBudget::Verdict::kCpuLimit:
      // No measured figure here: a detail is the same for the same run (usage has the figures).
      Stop(Outcome::kCpuLimit,
           absl::StrCat("CPU limit of ", absl::FormatDuration(manifest_.cpu_limit()),
                        " reached (the guest's CPU and the supervisor's work for it)"));
      return;
  }
}

std::vector<ChannelResult> GuestState::TakeChannelResults() {
  std::vector<ChannelResult> out;
  out.reserve(channels_.size());
  for (auto& c : channels_) out.push_back(c->TakeResult());
  return out;
}

std::optional<ScratchResult> GuestState::ScratchResults() const {
  const std::optional<ScratchSpec>& spec = manifest_.scratch();
  if (!spec.has_value()) return std::nullopt;
  ScratchResult r;
  r.path = spec->path;
  if (fs_ != nullptr && fs_->scratch() != nullptr) {
    const fs::ScratchUsage u = fs_->scratch()->usage();
    r.bytes = static_cast<int64_t>(u.bytes);
    r.peak_bytes = static_cast<int64_t>(u.peak_bytes);
    r.files = static_cast<int64_t>(u.files);
    r.peak_files = static_cast<int64_t>(u.peak_files);
    r.bytes_quota_exceeded = u.bytes_quota_exceeded;
    r.files_quota_exceeded = u.files_quota_exceeded;
  }
  return r;
}

}  // namespace zerocell::sandbox::supervisor
