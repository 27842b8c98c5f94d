// The warm pool's claim path and its maintenance thread; see warm_pool.h.
#include "sandbox/pool/warm_pool.h"

#include <pthread.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "base/status_macros.h"

namespace zerocell::sandbox::pool {

absl::StatusOr<std::unique_ptr<WarmPool>> WarmPool::Create(const Engine* engine,
                                                           WarmPoolOptions options,
                                                           WarmPoolObserver observer) {
  if (engine == nullptr) return absl::InvalidArgumentError("warm pool: no engine");
  const SizingLimits& s = options.sizing;
  if (s.min_per_image < 0 || s.max_per_image < 0 || options.max_total < 0) {
    return absl::InvalidArgumentError("warm pool: sizes must not be negative");
  }
  if (s.min_per_image > s.max_per_image) {
    return absl::InvalidArgumentError("warm pool: min_per_image is above max_per_image");
  }
  if (s.idle_retire <= absl::ZeroDuration() || s.window <= absl::ZeroDuration() ||
      options.tick <= absl::ZeroDuration() || options.prestart_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("warm pool: durations must be positive");
  }
  return std::unique_ptr<WarmPool>(new WarmPool(engine, std::move(options), std::move(observer)));
}

WarmPool::WarmPool(const Engine* engine, WarmPoolOptions options, WarmPoolObserver observer)
    : engine_(engine), options_(std::move(options)), observer_(std::move(observer)) {
  // The thread every parked sandbox is a child of: it lives as long as the pool.
  thread_ = std::thread([this] { Loop(); });
}

WarmPool::~WarmPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  // Kill and reap what is still parked (the thread has ended: their parent-death signal may
  // already have fired; reaping is what matters).
  absl::flat_hash_map<std::string, Entry> entries;
  {
    absl::MutexLock lock(&mu_);
    entries.swap(entries_);
  }
  entries.clear();
}

std::unique_ptr<ParkedSandbox> WarmPool::Claim(const std::shared_ptr<const Image>& image) {
  const absl::Time now = absl::Now();
  Retired dead;
  std::unique_ptr<ParkedSandbox> claimed;
  int64_t parked;
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_.try_emplace(image->sha256_hex(), image, now).first->second;
    if (entry.image.expired()) entry.image = image;  // cached again after it was dropped
    while (claimed == nullptr && !entry.parked.empty()) {
      std::unique_ptr<ParkedSandbox> candidate = std::move(entry.parked.back());  // the newest
      entry.parked.pop_back();
      --stats_.parked;
      if (candidate->Alive()) {
        claimed = std::move(candidate);
      } else {
        // Died while parked: never handed out.
        dead.emplace_back(std::move(candidate), "died");
        ++stats_.died;
        ++stats_.retired;
      }
    }
    entry.demand.OnClaim(now);
    ++(claimed ? stats_.warm_runs : stats_.cold_runs);
    // Refill on the pool's thread, off this request's path: at once when this image has none
    // left, else once the run ends, so that the refill does not compete with it for a CPU.
    if (entry.parked.empty()) wake_ = true;
    parked = stats_.parked;
  }
  Retire(std::move(dead));
  if (observer_.on_parked) observer_.on_parked(parked);
  return claimed;
}

void WarmPool::RunEnded(const std::string& sha) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(sha);
  if (it != entries_.end()) it->second.demand.OnRunEnd();
  wake_ = true;
}

absl::StatusOr<Result> WarmPool::Run(const std::shared_ptr<const Image>& image,
                                     const Manifest& manifest, const RunOptions& options) {
  // A request that can never run must not cost a parked sandbox, nor count as demand.
  ASSIGN_OR_RETURN(const PreparedRun prepared, engine_->Prepare(*image, manifest));
  std::unique_ptr<ParkedSandbox> parked = Claim(image);
  bool warm = parked != nullptr;
  absl::StatusOr<Result> result = warm ? engine_->RunParked(std::move(parked), prepared, options)
                                       : engine_->Run(prepared, options);
  if (warm && absl::IsAborted(result.status())) {
    // It died between the claim and its release; the guest never ran. Run it cold instead.
    warm = false;
    {
      absl::MutexLock lock(&mu_);
      ++stats_.died;
      ++stats_.retired;
      --stats_.warm_runs;
      ++stats_.cold_runs;
    }
    if (observer_.on_retire) observer_.on_retire("died");
    result = engine_->Run(prepared, options);
  }
  // Reported once the kind of start is known for sure.
  if (observer_.on_run) observer_.on_run(warm);
  RunEnded(image->sha256_hex());
  return result;
}

int64_t WarmPool::TotalLocked() const { return stats_.parked + stats_.prestarting; }

std::shared_ptr<const Image> WarmPool::Plan(absl::Time now, Retired* retired) {
  struct Need {
    Entry* entry;
    int deficit;
  };
  std::vector<Need> needs;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    // The dead are dropped at once: the next claim must find only live sandboxes.
    for (auto p = e.parked.begin(); p != e.parked.end();) {
      if ((*p)->Alive()) {
        ++p;
        continue;
      }
      retired->emplace_back(std::move(*p), "died");
      p = e.parked.erase(p);
      --stats_.parked;
      ++stats_.died;
    }
    const bool gone = e.image.expired();
    e.target = gone ? 0 : e.demand.Target(now, prestart_time_, options_.sizing);
    while (static_cast<int>(e.parked.size()) > e.target) {
      const char* reason = gone                                  ? "image_gone"
                           : e.demand.Idle(now, options_.sizing) ? "idle"
                                                                 : "surplus";
      retired->emplace_back(std::move(e.parked.front()), reason);
      e.parked.pop_front();
      --stats_.parked;
    }
    if (e.parked.empty() && e.prestarting == 0 && e.demand.active() == 0 &&
        (gone || e.demand.Idle(now, options_.sizing))) {
      entries_.erase(it++);
      continue;
    }
    const int deficit = e.target - static_cast<int>(e.parked.size()) - e.prestarting;
    if (deficit > 0 && now >= e.retry_after) needs.push_back({&e, deficit});
    ++it;
  }
  stats_.retired += static_cast<int64_t>(retired->size());
  // The largest deficit first; among equals the image claimed most recently.
  std::sort(needs.begin(), needs.end(), [](const Need& a, const Need& b) {
    if (a.deficit != b.deficit) return a.deficit > b.deficit;
    return a.entry->demand.last_claim() > b.entry->demand.last_claim();
  });
  for (const Need& need : needs) {
    Entry* const needy = need.entry;
    if (TotalLocked() >= options_.max_total) {
      // At the global cap, a slot is taken only from an image not claimed for a whole demand
      // window (and colder than this one). Why not simply the coldest: with more images in turn
      // than slots, the coldest is the next one asked for, and every slot would churn.
      Entry* coldest = nullptr;
      for (auto& [sha, e] : entries_) {
        if (&e == needy || e.parked.empty()) continue;
        if (e.demand.last_claim() + options_.sizing.window > now) continue;
        if (e.demand.last_claim() >= needy->demand.last_claim()) continue;
        if (coldest == nullptr || e.demand.last_claim() < coldest->demand.last_claim())
          coldest = &e;
      }
      if (coldest == nullptr) continue;
      retired->emplace_back(std::move(coldest->parked.front()), "cap");
      coldest->parked.pop_front();
      --stats_.parked;
      ++stats_.retired;
    }
    std::shared_ptr<const Image> image = needy->image.lock();
    if (image == nullptr) continue;
    ++needy->prestarting;
    ++stats_.prestarting;
    return image;
  }
  return nullptr;
}

void WarmPool::Retire(Retired retired) {
  for (auto& [sandbox, reason] : retired) {
    sandbox.reset();  // kill and reap
    if (observer_.on_retire) observer_.on_retire(reason);
  }
}

void WarmPool::Loop() {
  pthread_setname_np(pthread_self(), "zc-pool");
  mu_.Lock();
  while (!stop_) {
    Retired retired;
    std::shared_ptr<const Image> image = Plan(absl::Now(), &retired);
    const int64_t parked = stats_.parked;
    if (image == nullptr) {
      mu_.Unlock();
      Retire(std::move(retired));
      if (observer_.on_parked) observer_.on_parked(parked);
      mu_.Lock();
      if (!wake_ && !stop_) {
        mu_.AwaitWithTimeout(absl::Condition(this, &WarmPool::WakeOrStop), options_.tick);
      }
      wake_ = false;
      continue;
    }
    mu_.Unlock();
    Retire(std::move(retired));
    absl::StatusOr<std::unique_ptr<ParkedSandbox>> sandbox =
        engine_->Prestart(*image, absl::Now() + options_.prestart_timeout);
    if (sandbox.ok() && observer_.on_prestart) observer_.on_prestart((*sandbox)->prestart_time());
    if (!sandbox.ok() && observer_.on_prestart_error) observer_.on_prestart_error(sandbox.status());
    mu_.Lock();
    --stats_.prestarting;
    auto it = entries_.find(image->sha256_hex());
    Entry* entry = it == entries_.end() ? nullptr : &it->second;
    if (entry != nullptr) --entry->prestarting;
    if (!sandbox.ok()) {
      ++stats_.prestart_errors;
      // Do not spin on an image whose loader keeps failing; requests still run cold.
      if (entry != nullptr) entry->retry_after = absl::Now() + absl::Seconds(1);
      continue;
    }
    ++stats_.prestarted;
    prestart_time_ = (prestart_time_ * 7 + (*sandbox)->prestart_time()) / 8;
    if (entry != nullptr) {
      entry->parked.push_back(*std::move(sandbox));
      ++stats_.parked;
    }
    const int64_t now_parked = stats_.parked;
    mu_.Unlock();
    if (observer_.on_parked) observer_.on_parked(now_parked);
    mu_.Lock();
  }
  mu_.Unlock();
}

WarmPoolStats WarmPool::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

int WarmPool::Parked(const std::string& image_sha256) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(image_sha256);
  return it == entries_.end() ? 0 : static_cast<int>(it->second.parked.size());
}

}  // namespace zerocell::sandbox::pool
