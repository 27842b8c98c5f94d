// ExecuteStream on the callback API; see execute_stream.h and the proto for the contract.
#include "server/execute_stream.h"

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/rpc_status.h"
#include "base/tsan_handoff.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/output_observer.h"
#include "server/execution.h"
#include "server/request_caps.h"
#include "server/run_program.h"
#include "server/stream_input.h"

namespace zerocell::server {
namespace {

using v1::StreamRequest;
using v1::StreamResponse;

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

// The aliases the guest reads from the stream: the manifest's readable channels, and /dev/stdin
// when the manifest leaves it to the default.
std::vector<std::string> ReadableAliases(const v1::Manifest& manifest) {
  std::vector<std::string> out;
  bool stdin_declared = false;
  for (const v1::Channel& c : manifest.channels()) {
    if (c.alias() == sandbox::kStdinAlias) stdin_declared = true;
    if (c.gets() > 0 && c.get_size() > 0) out.push_back(c.alias());
  }
  if (!stdin_declared) out.emplace_back(sandbox::kStdinAlias);
  return out;
}

class StreamCall final : public grpc::ServerBidiReactor<StreamRequest, StreamResponse>,
                         public sandbox::OutputObserver {
 public:
  StreamCall(grpc::CallbackServerContext* context, const ServiceDeps* deps, CallCounters* calls,
             std::string request_id, std::string ns, absl::Status refused, FinishHook on_finish)
      : context_(context),
        deps_(deps),
        calls_(calls),
        request_id_(std::move(request_id)),
        ns_(std::move(ns)),
        refused_(std::move(refused)),
        on_finish_(std::move(on_finish)) {
    calls_->live.fetch_add(1);
    ZEROCELL_TSAN_RELEASE(this);  // handed to gRPC (with the first read)
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    ZEROCELL_TSAN_REACTION(this);
    if (!started_) {
      started_ = true;  // only this thread touches started_ (reads are serialized)
      OnStart(ok);
      return;
    }
    std::optional<grpc::Status> finish;
    bool read_more = false;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        // The client closed its side (or the stream broke: OnCancel follows): inputs end here.
        for (auto& [alias, input] : inputs_) input->End();
        read_closed_ = true;
      } else if (absl::Status taken = TakeInput(); !taken.ok()) {
        Fail(api::ToGrpcStatus(taken));
        read_closed_ = true;
      } else if (finished_) {
        read_closed_ = true;  // nothing reads on after the call ended
      } else if (buffered_ < kStreamWindowBytes) {
        read_more = true;
      } else {
        read_paused_ = true;  // resumed by Consumed once the guest has read some
      }
      finish = MaybeFinish();
    }
    if (read_more) ReadNext();
    if (finish) FinishCall(*finish);
  }

  void OnWriteDone(bool ok) override {
    ZEROCELL_TSAN_REACTION(this);
    std::optional<grpc::Status> finish;
    StreamResponse* next = nullptr;
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!out_.empty()) {
        queued_bytes_ -= static_cast<int64_t>(out_.front().output().data().size());
        out_.pop_front();
      }
      room_.SignalAll();
      if (!ok) {
        CancelLocked();  // nobody reads the rest
      } else {
        next = NextWrite(&last);
      }
      finish = MaybeFinish();
    }
    Write(next, last);
    if (finish) FinishCall(*finish);
  }

  void OnCancel() override {
    ZEROCELL_TSAN_REACTION(this);
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      CancelLocked();
      // Still queued: it will never run, so the call ends here.
      if (job_ != nullptr && deps_->pool->Withdraw(job_.get())) job_running_ = false;
      finish = MaybeFinish();
    }
    if (finish) FinishCall(*finish);
  }

  void OnDone() override {
    ZEROCELL_TSAN_ACQUIRE(this);
    calls_->live.fetch_sub(1);
    delete this;
  }

  // OutputObserver, on the worker: queue the bytes, waiting while the window is full.
  bool takes_output(int) const override { return true; }
  void OnWrite(int channel, uint64_t, std::string_view bytes) override {
    StreamResponse* next = nullptr;
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      // Waits in the guest's write; the run's wall deadline and cancellation end the wait (the
      // supervisor then stops the guest, so bytes dropped here are never reported as written
      // by a run that completed).
      while (queued_bytes_ >= kStreamWindowBytes && !cancelled_) {
        if (room_.WaitWithDeadline(&mu_, run_deadline_)) return;
      }
      if (cancelled_) return;
      // Bytes that wait behind the write in flight join the last queued chunk of the same
      // channel: one message (and one hand-off between threads) for many guest writes.
      const std::string& alias = output_aliases_[channel];
      StreamResponse* tail = out_.size() > (writing_ ? 1u : 0u) ? &out_.back() : nullptr;
      if (tail != nullptr && tail->has_output() && tail->output().alias() == alias &&
          static_cast<int64_t>(tail->output().data().size() + bytes.size()) <= kStreamWindowBytes) {
        tail->mutable_output()->mutable_data()->append(bytes.data(), bytes.size());
      } else {
        StreamResponse& response = out_.emplace_back();
        response.mutable_output()->set_alias(alias);
        response.mutable_output()->set_data(bytes.data(), bytes.size());
      }
      queued_bytes_ += static_cast<int64_t>(bytes.size());
      next = NextWrite(&last);
    }
    Write(next, last);
  }

 private:
  class RunJob final : public Job {
   public:
    explicit RunJob(StreamCall* call) : call_(call) {}
    void Run(absl::Duration queue_wait) override { call_->RunOnWorker(queue_wait); }
    void Reject(absl::Status status) override { call_->JobEnded(api::ToGrpcStatus(status)); }
    sandbox::CancelToken& cancel() { return cancel_; }

   private:
    StreamCall* const call_;
    sandbox::CancelToken cancel_;
  };

  // Finishes with `status` unless the call finished already (a cancellation came first).
  void FinishEarly(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    FinishCall(status);
  }

  void OnStart(bool ok) {
    absl::Status valid = !refused_.ok() ? refused_
                         : ok           ? CheckStreamStart(in_, deps_->caps)
                              : Invalid("start: the stream ended before its first message");
    if (!valid.ok()) {
      FinishEarly(api::ToGrpcStatus(valid));
      return;
    }
    start_ = std::move(*in_.mutable_start());
    for (const std::string& alias : ReadableAliases(start_.manifest())) {
      auto input = std::make_unique<StreamInput>([this](int64_t n) { Consumed(n); });
      if (!input->ok()) {
        FinishEarly(api::ToGrpcStatus(absl::ResourceExhaustedError("eventfd: out of fds")));
        return;
      }
      inputs_[alias] = std::move(input);
    }
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;  // cancelled while the start message was checked
      job_ = std::make_shared<RunJob>(this);
      job_running_ = true;
      if (absl::Status queued = deps_->pool->Submit(job_); !queued.ok()) {
        job_running_ = false;
        Fail(api::ToGrpcStatus(queued));
      }
      finish = MaybeFinish();
    }
    if (finish) {
      FinishCall(*finish);
      return;
    }
    ReadNext();
  }

  // Under mu_: the input message in in_ to its channel.
  absl::Status TakeInput() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (in_.kind_case() != StreamRequest::kInput) {
      return Invalid("input: every message after the first must be a StreamInput");
    }
    v1::StreamInput& input = *in_.mutable_input();
    const std::string alias =
        input.alias().empty() ? std::string(sandbox::kStdinAlias) : input.alias();
    auto it = inputs_.find(alias);
    if (it == inputs_.end()) {
      return Invalid(absl::StrCat("input.alias: \"", absl::CHexEscape(alias.substr(0, 255)),
                                  "\" is not a readable channel of this run"));
    }
    if (it->second->ended()) {
      return Invalid(absl::StrCat("input: channel ", alias, " already got its end mark"));
    }
    buffered_ += static_cast<int64_t>(input.data().size());
    it->second->Append(std::move(*input.mutable_data()));
    if (input.end()) it->second->End();
    return absl::OkStatus();
  }

  // On the supervisor's thread: the guest took n bytes of input.
  void Consumed(int64_t n) {
    bool read_more = false;
    {
      absl::MutexLock lock(&mu_);
      buffered_ -= n;
      if (read_paused_ && !read_closed_ && !finished_ && buffered_ < kStreamWindowBytes) {
        read_paused_ = false;
        read_more = true;
      }
    }
    if (read_more) ReadNext();
  }

  void RunOnWorker(absl::Duration queue_wait) {
    const absl::Time start = absl::Now();
    grpc::Status status = RunGuarded(queue_wait, start);
    JobEnded(status);
  }

  grpc::Status RunGuarded(absl::Duration queue_wait, absl::Time start) {
    // A stream holds none of its output: its output limit has its own cap and default bound.
    absl::StatusOr<sandbox::Manifest> manifest =
        ManifestForRun(StreamCaps(deps_->caps), start_.manifest());
    if (!manifest.ok()) return api::ToGrpcStatus(manifest.status());
    RunProgram program;
    if (grpc::Status acquired = AcquireProgramOf(*deps_, ns_, start_, *manifest, &program);
        !acquired.ok()) {
      return acquired;
    }
    sandbox::RunOptions options{&job_->cancel(), this};
    program.AddTo(&options);
    options.inputs.assign(manifest->channels().size(), nullptr);
    {
      absl::MutexLock lock(&mu_);
      for (size_t i = 0; i < manifest->channels().size(); ++i) {
        const sandbox::ChannelSpec& spec = manifest->channels()[i];
        output_aliases_.push_back(spec.alias);
        if (auto it = inputs_.find(spec.alias); it != inputs_.end() && spec.readable()) {
          it->second->set_prefix(spec.initial_bytes);
          options.inputs[i] = it->second.get();
        }
      }
      run_deadline_ = absl::Now() + manifest->timeout();
    }
    v1::ExecuteResponse response;
    grpc::Status status =
        RunAndReport(*deps_, ns_, *program.program, *manifest, options, queue_wait, start,
                     request_id_, static_cast<int64_t>(start_.ByteSizeLong()), -1, &response);
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      if (!cancelled_) out_.emplace_back().mutable_result()->Swap(&response);
    }
    return status;
  }

  void JobEnded(const grpc::Status& status) {
    std::optional<grpc::Status> finish;
    StreamResponse* next = nullptr;
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      job_running_ = false;
      if (!status.ok()) Fail(status);
      next = NextWrite(&last);
      finish = MaybeFinish();
    }
    Write(next, last);
    if (finish) FinishCall(*finish);
  }

  // The first error wins; a run still going is killed.
  void Fail(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!error_) error_ = status;
    if (job_ != nullptr) job_->cancel().Cancel();
    room_.SignalAll();
  }

  void CancelLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    cancelled_ = true;
    // Nothing more is sent; the message in flight (the front) stays until OnWriteDone.
    out_.erase(writing_ && !out_.empty() ? out_.begin() + 1 : out_.begin(), out_.end());
    if (job_ != nullptr) job_->cancel().Cancel();
    room_.SignalAll();
  }

  // The next message to write, if none is in flight; *last: it is the final result.
  StreamResponse* NextWrite(bool* last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || out_.empty() || cancelled_ || finished_ || error_) return nullptr;
    *last = out_.front().kind_case() == StreamResponse::kResult;
    if (*last) finished_ = true;  // the write finishes the call
    writing_ = true;
    return &out_.front();
  }

  // The next read into in_ (reads are serialized: only after OnReadDone, or while paused).
  void ReadNext() {
    ZEROCELL_TSAN_RELEASE(this);
    StartRead(&in_);
  }

  void Write(StreamResponse* next, bool last) {
    if (next == nullptr) return;
    ZEROCELL_TSAN_RELEASE(this);
    if (last) {
      if (on_finish_) on_finish_(grpc::Status::OK);
      StartWriteAndFinish(next, grpc::WriteOptions(), grpc::Status::OK);
    } else {
      StartWrite(next);
    }
  }

  // The status to finish with, when the call is over and no write is in flight.
  std::optional<grpc::Status> MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || job_running_) return std::nullopt;
    if (cancelled_) {
      finished_ = true;
      return error_.value_or(CallerGoneStatus(*context_, *calls_));
    }
    if (error_) {
      finished_ = true;
      return *error_;
    }
    return std::nullopt;  // the result is still to be written
  }

  void FinishCall(const grpc::Status& status) {
    if (on_finish_) on_finish_(status);
    ZEROCELL_TSAN_RELEASE(this);
    Finish(status);
  }

  grpc::CallbackServerContext* const context_;
  const ServiceDeps* const deps_;
  CallCounters* const calls_;
  const std::string request_id_;
  const std::string ns_;        // the caller's image namespace ("" when namespaces are off)
  const absl::Status refused_;  // not OK: the call is answered this before anything runs
  FinishHook on_finish_;

  StreamRequest in_;       // the read in flight (reads are serialized by gRPC)
  bool started_ = false;   // reactor reads only
  v1::StreamStart start_;  // set before the job exists; read-only afterwards
  std::map<std::string, std::unique_ptr<StreamInput>> inputs_;  // fixed once the job exists

  absl::Mutex mu_;
  absl::CondVar room_;  // output window space, cancellation
  std::shared_ptr<RunJob> job_ ABSL_GUARDED_BY(mu_);
  bool job_running_ ABSL_GUARDED_BY(mu_) = false;  // queued or running
  std::vector<std::string> output_aliases_ ABSL_GUARDED_BY(mu_);
  absl::Time run_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  int64_t buffered_ ABSL_GUARDED_BY(mu_) = 0;  // input bytes not yet read by the guest
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<StreamResponse> out_ ABSL_GUARDED_BY(mu_);  // front: the write in flight
  int64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::Status CheckStreamStart(const StreamRequest& first, const RequestCaps& caps) {
  if (first.kind_case() != StreamRequest::kStart) {
    return Invalid("start: the first message must be a StreamStart");
  }
  const v1::StreamStart& start = first.start();
  if (absl::Status choice = CheckProgramChoice(
          start.program_case() != v1::StreamStart::PROGRAM_NOT_SET, start.manifest());
      !choice.ok()) {
    return choice;
  }
  if (start.program_case() == v1::StreamStart::kImage &&
      static_cast<int64_t>(start.image().size()) > caps.max_image_bytes) {
    return Invalid(absl::StrCat("image: ", start.image().size(), " is above this server's cap of ",
                                caps.max_image_bytes, " (--max_image_bytes)"));
  }
  if (!start.has_manifest()) return Invalid("manifest: required");
  if (absl::Status s = CheckManifestCaps(start.manifest(), StreamCaps(caps)); !s.ok()) return s;
  for (int i = 0; i < start.manifest().channels_size(); ++i) {
    const v1::Channel& c = start.manifest().channels(i);
    const bool readable = c.gets() > 0 && c.get_size() > 0;
    const bool writable = c.puts() > 0 && c.put_size() > 0;
    // A stream can be read or written once, in order: no offsets, no reading back what was
    // written.
    if (c.type() != v1::CHANNEL_TYPE_SEQ_READ_SEQ_WRITE) {
      return Invalid(
          absl::StrCat("manifest.channels[", i, "].type: channel ", absl::CHexEscape(c.alias()),
                       " is random access (type ", static_cast<int>(c.type()),
                       "); ExecuteStream serves sequential channels only (use Execute)"));
    }
    if (readable && writable) {
      return Invalid(absl::StrCat("manifest.channels[", i, "]: channel ",
                                  absl::CHexEscape(c.alias()),
                                  " is both readable and writable; ExecuteStream serves read-only "
                                  "and write-only channels (use Execute)"));
    }
  }
  return absl::OkStatus();
}

grpc::ServerBidiReactor<StreamRequest, StreamResponse>* StartExecuteStream(
    grpc::CallbackServerContext* context, const ServiceDeps* deps, CallCounters* calls,
    std::string request_id, std::string ns, absl::Status refused, FinishHook on_finish) {
  return new StreamCall(context, deps, calls, std::move(request_id), std::move(ns),
                        std::move(refused), std::move(on_finish));
}

}  // namespace zerocell::server
