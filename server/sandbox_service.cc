// zerocell.v1.Sandbox on the gRPC callback API: admission, image cache, engine runs.
#include "server/sandbox_service.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/manifest_proto.h"
#include "api/report_proto.h"
#include "api/result_proto.h"
#include "api/rpc_status.h"
#include "base/tsan_handoff.h"
#include "server/execute_batch.h"
#include "server/execute_stream.h"
#include "server/execution.h"
#include "server/message_bounds.h"
#include "server/pooled_call.h"
#include "server/run_program.h"

namespace zerocell::server {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// Client-chosen ids go into logs: accept only short, plain tokens (no log injection).
bool SaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// A call answered on the handler's thread. Not the context's DefaultReactor: its OnDone is
// gRPC's, and this one's tells TSan (base/tsan_handoff.h) that gRPC's request and response,
// which gRPC frees after OnDone on another thread, were handed over by this thread.
class AnsweredCall final : public grpc::ServerUnaryReactor {
 public:
  explicit AnsweredCall(const grpc::Status& status) {
    ZEROCELL_TSAN_RELEASE(this);
    Finish(status);
  }
  void OnDone() override {
    ZEROCELL_TSAN_ACQUIRE(this);
    delete this;
  }
};

}  // namespace

v1::Image ImageInfoToProto(const image::ImageInfo& info, bool with_tree_elves) {
  v1::Image out;
  const image::CachedImage& cached = *info.image;
  out.set_image_id(cached.id);
  out.set_name(cached.name);
  out.set_size_bytes(static_cast<int64_t>(cached.size_bytes()));
  out.set_registered_unix_ns(cached.registered_unix_ns);
  *out.mutable_validation() = api::ReportToProto(cached.report);
  if (cached.kind == image::ImageKind::kTree) {
    out.set_kind(v1::IMAGE_KIND_TREE);
    *out.mutable_tree() = api::TreeToProto(*cached.tree, with_tree_elves);
  } else {
    out.set_kind(v1::IMAGE_KIND_ELF);
  }
  out.set_executions(info.executions);
  out.set_last_used_unix_ns(info.last_used_unix_ns);
  out.set_in_use(info.in_use);
  return out;
}

std::string SandboxService::RequestIdFor(grpc::CallbackServerContext* context) const {
  std::string id;
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
    std::string_view given(it->second.data(), it->second.size());
    if (SaneRequestId(given)) id = std::string(given);
  }
  if (id.empty()) id = NewRequestId();
  context->AddInitialMetadata("x-request-id", id);
  return id;
}

void SandboxService::Finished(std::string_view method, const std::string& request_id,
                              absl::Time start, const grpc::Status& status) const {
  deps_.metrics->RequestFinished(method, static_cast<int>(status.error_code()));
  if (status.ok()) return;  // successful Executes log their own richer line
  // The message is not logged: it may quote the request (argv, env, aliases), i.e. guest data.
  LogLine(*deps_.log, "warning", "request_failed")
      .Str("request_id", request_id)
      .Str("method", method)
      .Int("code", static_cast<int>(status.error_code()))
      .Int("message_bytes", static_cast<int64_t>(status.error_message().size()))
      .Double("duration_ms", absl::ToDoubleMilliseconds(absl::Now() - start))
      .Emit();
}

// Why: a call that arrives while the server drains is answered, never left to gRPC's shutdown
// (which cancels it, and clients do not retry CANCELLED): UNAVAILABLE is retried elsewhere.
absl::Status SandboxService::DrainingStatus() { return api::DrainingRefusal(); }

grpc::Status SandboxService::Draining() { return api::ToGrpcStatus(DrainingStatus()); }

grpc::ServerUnaryReactor* SandboxService::FinishNow(std::string_view method,
                                                    const std::string& request_id, absl::Time start,
                                                    const grpc::Status& status) {
  Finished(method, request_id, start, status);
  return new AnsweredCall(status);
}

grpc::ServerUnaryReactor* SandboxService::Execute(grpc::CallbackServerContext* context,
                                                  const v1::ExecuteRequest* request,
                                                  v1::ExecuteResponse* response) {
  const absl::Time start = absl::Now();
  std::string request_id = RequestIdFor(context);
  if (calls_.draining.load()) return FinishNow("Execute", request_id, start, Draining());
  absl::StatusOr<std::string> ns = NamespaceOf(deps_.namespace_mode, *context);
  if (!ns.ok()) {
    return FinishNow("Execute", request_id, start, api::ToGrpcStatus(ns.status()));
  }
  // Cheap field scans only: anything heavier (copies, hashing, validation) runs on a worker.
  if (absl::Status caps = CheckExecuteRequest(*request, deps_.caps); !caps.ok()) {
    return FinishNow("Execute", request_id, start, api::ToGrpcStatus(caps));
  }
  // Why: a request refused here is freed at once instead of waiting in the queue; the charge is
  // held until gRPC is done with the call (its response sent).
  std::shared_ptr<RequestBudget::Charge> charge;
  if (deps_.budget != nullptr) {
    absl::StatusOr<std::shared_ptr<RequestBudget::Charge>> charged = deps_.budget->TryCharge(
        ExecuteMemoryCharge(*request, deps_.caps), "max_request_memory_bytes");
    if (!charged.ok()) {
      return FinishNow("Execute", request_id, start, api::ToGrpcStatus(charged.status()));
    }
    charge = *std::move(charged);
  }
  auto* call = new PooledCall(
      context, deps_.pool, &calls_,
      [this, request, response, request_id, start, ns = *std::move(ns), charge = std::move(charge)](
          const sandbox::CancelToken& cancel, absl::Duration queue_wait) {
        return RunExecute(*request, response, request_id, ns, cancel, queue_wait, start);
      },
      [this, request_id, start](const grpc::Status& status) {
        Finished("Execute", request_id, start, status);
      });
  call->Start();
  return call;
}

grpc::ServerWriteReactor<v1::ExecuteBatchResult>* SandboxService::ExecuteBatch(
    grpc::CallbackServerContext* context, const v1::ExecuteBatchRequest* request) {
  const absl::Time start = absl::Now();
  std::string request_id = RequestIdFor(context);
  absl::StatusOr<std::string> ns = NamespaceOf(deps_.namespace_mode, *context);
  absl::Status refused = calls_.draining.load() ? DrainingStatus() : ns.status();
  return StartExecuteBatch(context, request, &deps_, &calls_, request_id,
                           ns.ok() ? *std::move(ns) : "", std::move(refused),
                           [this, request_id, start](const grpc::Status& status) {
                             Finished("ExecuteBatch", request_id, start, status);
                           });
}

grpc::ServerBidiReactor<v1::StreamRequest, v1::StreamResponse>* SandboxService::ExecuteStream(
    grpc::CallbackServerContext* context) {
  const absl::Time start = absl::Now();
  std::string request_id = RequestIdFor(context);
  absl::StatusOr<std::string> ns = NamespaceOf(deps_.namespace_mode, *context);
  absl::Status refused = calls_.draining.load() ? DrainingStatus() : ns.status();
  return StartExecuteStream(context, &deps_, &calls_, request_id, ns.ok() ? *std::move(ns) : "",
                            std::move(refused),
                            [this, request_id, start](const grpc::Status& status) {
                              Finished("ExecuteStream", request_id, start, status);
                            });
}

grpc::Status SandboxService::RunExecute(const v1::ExecuteRequest& request,
                                        v1::ExecuteResponse* response,
                                        const std::string& request_id, const std::string& ns,
                                        const sandbox::CancelToken& cancel,
                                        absl::Duration queue_wait, absl::Time start) const {
  // The manifest first: a bad request must not cost an image validation or a cache slot.
  absl::StatusOr<sandbox::Manifest> manifest = ManifestForRun(deps_.caps, request.manifest());
  if (!manifest.ok()) return api::ToGrpcStatus(manifest.status());
  RunProgram program;
  if (grpc::Status acquired = AcquireProgramOf(deps_, ns, request, *manifest, &program);
      !acquired.ok()) {
    return acquired;
  }
  sandbox::RunOptions options{&cancel, nullptr};
  program.AddTo(&options);
  return RunAndReport(deps_, ns, *program.program, *manifest, options, queue_wait, start,
                      request_id, request.ByteSizeLong(), -1, response);
}

grpc::ServerUnaryReactor* SandboxService::RegisterImage(grpc::CallbackServerContext* context,
                                                        const v1::RegisterImageRequest* request,
                                                        v1::RegisterImageResponse* response) {
  const absl::Time start = absl::Now();
  std::string request_id = RequestIdFor(context);
  if (calls_.draining.load()) {
    return FinishNow("RegisterImage", request_id, start, Draining());
  }
  absl::StatusOr<std::string> ns = NamespaceOf(deps_.namespace_mode, *context);
  if (!ns.ok()) {
    return FinishNow("RegisterImage", request_id, start, api::ToGrpcStatus(ns.status()));
  }
  if (absl::Status caps = CheckRegisterRequest(*request, deps_.caps); !caps.ok()) {
    return FinishNow("RegisterImage", request_id, start, api::ToGrpcStatus(caps));
  }
  std::shared_ptr<RequestBudget::Charge> charge;
  if (deps_.budget != nullptr) {
    absl::StatusOr<std::shared_ptr<RequestBudget::Charge>> charged =
        deps_.budget->TryCharge(RegisterMemoryCharge(*request), "max_request_memory_bytes");
    if (!charged.ok()) {
      return FinishNow("RegisterImage", request_id, start, api::ToGrpcStatus(charged.status()));
    }
    charge = *std::move(charged);
  }
  auto* call = new PooledCall(
      context, deps_.pool, &calls_,
      [this, request, response, ns = *std::move(ns), charge = std::move(charge)](
          const sandbox::CancelToken&, absl::Duration) {
        return RunRegister(*request, response, ns);
      },
      [this, request_id, start, response](const grpc::Status& status) {
        Finished("RegisterImage", request_id, start, status);
        if (!status.ok()) return;
        LogLine(*deps_.log, "info", "register_image")
            .Str("request_id", request_id)
            .Str("image_id", response->image().image_id())
            .Int("size_bytes", response->image().size_bytes())
            .Bool("already_registered", response->already_registered())
            .Emit();
      });
  call->Start();
  return call;
}

grpc::Status SandboxService::RunRegister(const v1::RegisterImageRequest& request,
                                         v1::RegisterImageResponse* response,
                                         const std::string& ns) const {
  const bool tree = !request.tree_tar().empty();
  if (deps_.trimmer != nullptr) {
    deps_.trimmer->CallEnded(tree ? request.tree_tar().size() : request.elf().size());
  }
  image::ValidationReport rejected;
  std::string rejected_path;
  absl::StatusOr<image::RegisterResult> registered =
      tree
          ? deps_.cache->RegisterTree(request.tree_tar(), request.name(), &rejected, &rejected_path)
          : deps_.cache->Register(request.elf(), request.name(), &rejected);
  if (!registered.ok()) return RejectedImage(registered.status(), rejected, rejected_path);
  // With namespaces, "already registered" is this namespace's answer, never another client's.
  absl::StatusOr<bool> added = AddToNamespace(deps_, ns, &registered->image, request.name());
  if (!added.ok()) return api::ToGrpcStatus(added.status());
  response->set_already_registered(deps_.namespaces != nullptr ? !*added
                                                               : registered->already_registered);
  // Our pin released before asking the cache, so that in_use reports other holders (running
  // executions) only.
  const std::string id = registered->image->id;
  registered->image.reset();
  absl::StatusOr<v1::Image> image = DescribeImage(ns, id);
  if (!image.ok()) {
    // Only a cache too small for one image evicts the newest entry at once.
    return api::ToGrpcStatus(
        absl::InternalError("the image cache evicted the image at once (--cache_bytes too small)"));
  }
  *response->mutable_image() = *std::move(image);
  return grpc::Status::OK;
}

absl::StatusOr<v1::Image> SandboxService::DescribeImage(const std::string& ns,
                                                        const std::string& id,
                                                        bool with_tree_elves) const {
  std::optional<NamespacedImage> mine;
  if (deps_.namespaces != nullptr) {
    absl::StatusOr<NamespacedImage> found = deps_.namespaces->Get(ns, id);
    if (!found.ok()) return found.status();
    mine = *std::move(found);
  }
  absl::StatusOr<image::ImageInfo> info = deps_.cache->Get(id);
  if (!info.ok()) {
    if (mine.has_value() && info.status().code() == absl::StatusCode::kNotFound) {
      absl::Status stored;
      deps_.namespaces->Forget(id, &stored);  // evicted from the cache: gone for every client
    }
    return info.status();
  }
  v1::Image out = ImageInfoToProto(*info, with_tree_elves);
  if (mine.has_value()) {
    // This client's view only: its label, registration, executions and runs.
    out.set_name(mine->name);
    out.set_registered_unix_ns(mine->registered_unix_ns);
    out.set_executions(mine->executions);
    out.set_last_used_unix_ns(mine->last_used_unix_ns);
    out.set_in_use(mine->running > 0);
  }
  return out;
}

grpc::ServerUnaryReactor* SandboxService::GetImage(grpc::CallbackServerContext* context,
                                                   const v1::GetImageRequest* request,
                                                   v1::Image* response) {
  const absl::Time start = absl::Now();
  std::string request_id = RequestIdFor(context);
  if (absl::Status id = image::CheckImageId(request->image_id(), "image_id"); !id.ok()) {
    return FinishNow("GetImage", request_id, start, api::ToGrpcStatus(id));
  }
  absl::StatusOr<std::string> ns = NamespaceOf(deps_.namespace_mode, *context);
  if (!ns.ok()) {
    return FinishNow("GetImage", request_id, start, api::ToGrpcStatus(ns.status()));
  }
  absl::StatusOr<v1::Image> image = DescribeImage(*ns, request->image_id());
  if (!image.ok()) {
    return FinishNow("GetImage", request_id, start,
                     image.status().code() == absl::StatusCode::kNotFound
                         ? ImageNotFound(request->image_id())
                         : api::ToGrpcStatus(image.status()));
  }
  *response = *std::move(image);
  return FinishNow("GetImage", request_id, start, grpc::Status::OK);
}

grpc::ServerUnaryReactor* SandboxService::ListImages(grpc::CallbackServerContext* context,
                                                     const v1::ListImagesRequest* request,
                                                     v1::ListImagesResponse* response) {
  const absl::Time start = absl::Now();
  std::string request_id = RequestIdFor(context);
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return FinishNow(
        "ListImages", request_id, start,
        api::ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
            "page_size: must be 0..", kMaxPageSize, " (got ", request->page_size(), ")"))));
  }
  // The token is the offset into the most-recently-used order; pages may shift when images are
  // used between calls (documented as best effort).
  size_t offset = 0;
  if (!request->page_token().empty() &&
      (!absl::SimpleAtoi(request->page_token(), &offset) || offset > (size_t{1} << 30))) {
    return FinishNow(
        "ListImages", request_id, start,
        api::ToGrpcStatus(absl::InvalidArgumentError("page_token: not a token from ListImages")));
  }
  absl::StatusOr<std::string> ns = NamespaceOf(deps_.namespace_mode, *context);
  if (!ns.ok()) {
    return FinishNow("ListImages", request_id, start, api::ToGrpcStatus(ns.status()));
  }
  const size_t page = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  // Images with long reports can make a page larger than a message may be: the page then ends
  // early (its token continues after the last image sent), never in a failed call.
  const int64_t room = deps_.max_message_bytes - kFixedEnvelopeBytes;
  int64_t used = 0;
  size_t end = offset;
  size_t total = 0;
  const auto add = [&](v1::Image image) {
    const int64_t bytes = static_cast<int64_t>(image.ByteSizeLong()) + 8;
    if (end > offset && used + bytes > room) return false;
    used += bytes;
    *response->add_images() = std::move(image);
    ++end;
    return true;
  };
  if (deps_.namespaces == nullptr) {
    std::vector<image::ImageInfo> all = deps_.cache->List();
    total = all.size();
    while (end < all.size() && end < offset + page && add(ImageInfoToProto(all[end]))) {
    }
  } else {
    std::vector<NamespacedImage> mine = deps_.namespaces->List(*ns);
    total = mine.size();
    for (size_t i = offset; i < mine.size() && end < offset + page; ++i) {
      absl::StatusOr<v1::Image> image = DescribeImage(*ns, mine[i].id, /*with_tree_elves=*/false);
      if (!image.ok()) {  // evicted since: counts as a listed position, shows nothing
        ++end;
        continue;
      }
      if (!add(*std::move(image))) break;
    }
  }
  if (end < total) response->set_next_page_token(absl::StrCat(end));
  return FinishNow("ListImages", request_id, start, grpc::Status::OK);
}

grpc::ServerUnaryReactor* SandboxService::GetServerInfo(grpc::CallbackServerContext* context,
                                                        const v1::GetServerInfoRequest*,
                                                        v1::ServerInfo* response) {
  const absl::Time start = absl::Now();
  std::string request_id = RequestIdFor(context);
  *response = deps_.info;
  return FinishNow("GetServerInfo", request_id, start, grpc::Status::OK);
}

}  // namespace zerocell::server
