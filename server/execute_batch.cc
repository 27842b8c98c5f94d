// ExecuteBatch on the callback API; see execute_batch.h for the scheduling contract.
#include "server/execute_batch.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/rpc_status.h"
#include "base/tsan_handoff.h"
#include "server/execution.h"
#include "server/run_program.h"

namespace zerocell::server {
namespace {

using v1::ExecuteBatchResult;

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

class BatchCall final : public grpc::ServerWriteReactor<ExecuteBatchResult> {
 public:
  BatchCall(grpc::CallbackServerContext* context, const v1::ExecuteBatchRequest* request,
            const ServiceDeps* deps, CallCounters* calls, std::string request_id, std::string ns,
            FinishHook on_finish, int window)
      : context_(context),
        request_(request),
        deps_(deps),
        calls_(calls),
        request_id_(std::move(request_id)),
        ns_(std::move(ns)),
        on_finish_(std::move(on_finish)),
        window_(window) {
    calls_->live.fetch_add(1);
    ZEROCELL_TSAN_RELEASE(this);  // handed to gRPC when StartExecuteBatch returns it
  }

  // Queues the image resolution (runs follow from there), or finishes with `invalid`.
  void Start(const absl::Status& invalid) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (!invalid.ok()) {
        fatal_ = api::ToGrpcStatus(invalid);
      } else {
        ++outstanding_;
        if (absl::Status queued = deps_->pool->Submit(std::make_shared<ResolveJob>(this));
            !queued.ok()) {
          --outstanding_;
          fatal_ = api::ToGrpcStatus(queued);
        }
      }
      action = Step();
    }
    Act(action);
  }

  void OnWriteDone(bool ok) override {
    ZEROCELL_TSAN_REACTION(this);
    Action action;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) CancelLocked();  // the stream broke: nobody will read the rest
      Pump();
      action = Step();
    }
    Act(action);
  }

  void OnCancel() override {
    ZEROCELL_TSAN_REACTION(this);
    Action action;
    {
      absl::MutexLock lock(&mu_);
      CancelLocked();
      action = Step();
    }
    Act(action);
  }

  void OnDone() override {
    ZEROCELL_TSAN_ACQUIRE(this);
    calls_->live.fetch_sub(1);
    delete this;
  }

 private:
  // What to tell gRPC once mu_ is released (a reaction may run inline and take it again).
  struct Action {
    ExecuteBatchResult* write = nullptr;
    std::optional<grpc::Status> finish;
  };

  class ResolveJob final : public Job {
   public:
    explicit ResolveJob(BatchCall* call) : call_(call) {}
    void Run(absl::Duration) override { call_->Resolve(); }
    void Reject(absl::Status status) override { call_->JobEnded(api::ToGrpcStatus(status)); }

   private:
    BatchCall* const call_;
  };

  class RunJob final : public Job {
   public:
    RunJob(BatchCall* call, int index) : call_(call), index_(index), submitted_(absl::Now()) {}
    void Run(absl::Duration queue_wait) override { call_->RunOne(*this, queue_wait); }
    void Reject(absl::Status status) override {
      call_->RunEnded(this, index_, api::ToGrpcStatus(status), nullptr);
    }
    int index() const { return index_; }
    absl::Time submitted() const { return submitted_; }
    sandbox::CancelToken& cancel() { return cancel_; }

   private:
    BatchCall* const call_;
    const int index_;
    const absl::Time submitted_;
    sandbox::CancelToken cancel_;
  };

  // On a worker.
  void Resolve() {
    std::shared_ptr<const image::CachedImage> cached;
    const bool by_id = request_->program_case() == v1::ExecuteBatchRequest::kImageId;
    // Without an image every run names its program by manifest.program_path (RunOne).
    grpc::Status status =
        request_->program_case() == v1::ExecuteBatchRequest::PROGRAM_NOT_SET
            ? grpc::Status::OK
            : AcquireImage(*deps_, ns_, by_id, by_id ? request_->image_id() : request_->image(),
                           &cached);
    Action action;
    {
      absl::MutexLock lock(&mu_);
      --outstanding_;
      if (!status.ok()) {
        fatal_ = status;
      } else {
        image_ = std::move(cached);
        resolved_ = true;
        Pump();
      }
      action = Step();
    }
    Act(action);
  }

  void JobEnded(const grpc::Status& status) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      --outstanding_;
      if (!fatal_) fatal_ = status;
      action = Step();
    }
    Act(action);
  }

  // On a worker: one run, reported as Execute would report it.
  void RunOne(RunJob& job, absl::Duration queue_wait) {
    const v1::Manifest& proto = request_->runs(job.index());
    auto response = std::make_unique<v1::ExecuteResponse>();
    grpc::Status status;
    if (absl::Status caps = CheckManifestCaps(proto, deps_->caps); !caps.ok()) {
      status = api::ToGrpcStatus(caps);
    } else if (absl::StatusOr<sandbox::Manifest> manifest = ManifestForRun(deps_->caps, proto);
               !manifest.ok()) {
      status = api::ToGrpcStatus(manifest.status());
    } else if (absl::Status choice = CheckProgramChoice(image_ != nullptr, proto); !choice.ok()) {
      status = api::ToGrpcStatus(choice);
    } else {
      sandbox::RunOptions options{&job.cancel(), nullptr};
      RunProgram program;
      if (!manifest->mounts().empty()) {
        // The batch's image is already held: only the run's trees (and its path) are acquired.
        status = AcquireTrees(*deps_, ns_, *manifest, image_ == nullptr, &program);
        program.AddTo(&options);
      }
      if (status.ok()) {
        status =
            RunAndReport(*deps_, ns_, program.program != nullptr ? *program.program : *image_,
                         *manifest, options, queue_wait, job.submitted(), request_id_,
                         static_cast<int64_t>(proto.ByteSizeLong()), job.index(), response.get());
      }
    }
    RunEnded(&job, job.index(), status, status.ok() ? std::move(response) : nullptr);
  }

  void RunEnded(const RunJob* job, int index, const grpc::Status& status,
                std::unique_ptr<v1::ExecuteResponse> response) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      --outstanding_;
      live_.erase(
          std::remove_if(live_.begin(), live_.end(),
                         [job](const std::shared_ptr<RunJob>& j) { return j.get() == job; }),
          live_.end());
      // After the caller went away its killed runs are not results (the call ends with why).
      if (!cancelled_) Push(index, status, std::move(response));
      Pump();
      action = Step();
    }
    Act(action);
  }

  void Push(int index, const grpc::Status& status, std::unique_ptr<v1::ExecuteResponse> response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ExecuteBatchResult& result = pending_.emplace_back();
    result.set_index(index);
    if (status.ok()) {
      result.mutable_response()->Swap(response.get());
    } else {
      result.set_error_code(static_cast<int>(status.error_code()));
      result.set_error_message(status.error_message());
    }
  }

  // Submits runs while the window has room.
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!cancelled_ && !fatal_ && resolved_ && next_ < request_->runs_size() &&
           outstanding_ + static_cast<int>(pending_.size()) + (writing_ ? 1 : 0) < window_) {
      auto job = std::make_shared<RunJob>(this, next_);
      absl::Status queued = deps_->pool->Submit(job);
      if (queued.ok()) {
        ++outstanding_;
        live_.push_back(std::move(job));
        ++next_;
        continue;
      }
      if (queued.code() == absl::StatusCode::kUnavailable) {  // draining: no run can start now
        fatal_ = api::ToGrpcStatus(queued);
        return;
      }
      // Queue full: wait for a run of ours to free a place; with none in flight, this run is
      // refused as Execute would be.
      if (outstanding_ > 0) return;
      Push(next_++, api::ToGrpcStatus(queued), nullptr);
    }
  }

  void CancelLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (cancelled_) return;
    cancelled_ = true;
    pending_.clear();
    for (auto it = live_.begin(); it != live_.end();) {
      (*it)->cancel().Cancel();
      // Still queued: it will never run or be rejected, so it ends here. Running ones end (and
      // leave live_) in RunEnded once their sandbox is killed.
      if (deps_->pool->Withdraw(it->get())) {
        --outstanding_;
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // The next write, or the finish when nothing is left; Act carries it out.
  Action Step() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return {};
    if (!cancelled_ && !pending_.empty()) {
      current_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      return {&current_, std::nullopt};
    }
    if (outstanding_ > 0) return {};
    grpc::Status status = grpc::Status::OK;
    if (cancelled_) {
      status = CallerGoneStatus(*context_, *calls_);
    } else if (fatal_) {
      status = *fatal_;
    } else if (next_ < request_->runs_size()) {
      return {};  // more to submit (Pump runs before Step)
    }
    finished_ = true;
    return {nullptr, status};
  }

  // Outside mu_. After Finish, `this` may be gone.
  void Act(const Action& action) {
    if (action.write != nullptr) {
      ZEROCELL_TSAN_RELEASE(this);
      StartWrite(action.write);
    }
    if (action.finish) {
      if (on_finish_) on_finish_(*action.finish);
      ZEROCELL_TSAN_RELEASE(this);
      Finish(*action.finish);
    }
  }

  grpc::CallbackServerContext* const context_;
  const v1::ExecuteBatchRequest* const request_;
  const ServiceDeps* const deps_;
  CallCounters* const calls_;
  const std::string request_id_;
  const std::string ns_;  // the caller's image namespace ("" when namespaces are off)
  FinishHook on_finish_;
  const int window_;

  absl::Mutex mu_;
  // The batch's program; null when every run names its own (manifest.program_path).
  std::shared_ptr<const image::CachedImage> image_ ABSL_GUARDED_BY(mu_);
  bool resolved_ ABSL_GUARDED_BY(mu_) = false;  // image_ is final: runs may start
  int next_ ABSL_GUARDED_BY(mu_) = 0;           // next run to submit
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // jobs submitted, not yet run, rejected or withdrawn
  std::vector<std::shared_ptr<RunJob>> live_ ABSL_GUARDED_BY(mu_);  // submitted runs
  std::deque<ExecuteBatchResult> pending_ ABSL_GUARDED_BY(mu_);     // results not yet written
  ExecuteBatchResult current_;  // the write in progress (gRPC reads it until OnWriteDone)
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> fatal_ ABSL_GUARDED_BY(mu_);  // ends the batch (image, draining)
};

}  // namespace

int BatchShare(int workers) { return std::max(1, workers / 2); }

absl::Status CheckBatchRequest(const v1::ExecuteBatchRequest& request, const RequestCaps& caps,
                               int share) {
  // Without an image the runs name their programs; when none does, the batch is wrong as a whole.
  if (request.program_case() == v1::ExecuteBatchRequest::PROGRAM_NOT_SET &&
      std::none_of(request.runs().begin(), request.runs().end(),
                   [](const v1::Manifest& m) { return !m.program_path().empty(); })) {
    return Invalid("program: set image_id or image (or manifest.program_path in the runs)");
  }
  if (request.program_case() == v1::ExecuteBatchRequest::kImage &&
      static_cast<int64_t>(request.image().size()) > caps.max_image_bytes) {
    return Invalid(absl::StrCat("image: ", request.image().size(),
                                " is above this server's cap of ", caps.max_image_bytes,
                                " (--max_image_bytes)"));
  }
  if (request.runs_size() == 0) return Invalid("runs: at least one run is required");
  if (request.runs_size() > kMaxBatchRuns) {
    return Invalid(absl::StrCat("runs: ", request.runs_size(), " runs, at most ", kMaxBatchRuns));
  }
  if (request.parallelism() < 0 || request.parallelism() > share) {
    return Invalid(absl::StrCat("parallelism: must be 0..", share,
                                " (this server's batch share, half of --max_concurrency; got ",
                                request.parallelism(), ")"));
  }
  return absl::OkStatus();
}

grpc::ServerWriteReactor<ExecuteBatchResult>* StartExecuteBatch(
    grpc::CallbackServerContext* context, const v1::ExecuteBatchRequest* request,
    const ServiceDeps* deps, CallCounters* calls, std::string request_id, std::string ns,
    absl::Status refused, FinishHook on_finish) {
  const int share = BatchShare(deps->pool->workers());
  const int window = request->parallelism() > 0 ? request->parallelism() : share;
  auto* call = new BatchCall(context, request, deps, calls, std::move(request_id), std::move(ns),
                             std::move(on_finish), window);
  call->Start(refused.ok() ? CheckBatchRequest(*request, deps->caps, share) : refused);
  return call;
}

}  // namespace zerocell::server
