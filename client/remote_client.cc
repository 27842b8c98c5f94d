// C++ client of the zerocell.v1.Sandbox service.
#include "client/remote_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/rpc_status.h"
#include "client/channel_target.h"
#include "client/cli_files.h"
#include "image/image_id.h"

namespace zerocell::client {
namespace {

// The CLI's input-file reader, so that errors read as for every other file flag: NOT_FOUND
// "tls_ca: /path: No such file or directory", PERMISSION_DENIED, INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> ReadPemFile(absl::string_view option, const std::string& path) {
  absl::StatusOr<std::string> data = ReadInputFile(option, path);
  if (data.ok() && data->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(option, ": ", path, ": empty"));
  }
  return data;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const ClientOptions& options) {
  const bool has_cert = !options.tls_cert_file.empty();
  const bool has_key = !options.tls_key_file.empty();
  if (has_cert != has_key) {
    return absl::InvalidArgumentError("tls_cert and tls_key: give both (mutual TLS) or neither");
  }
  if (options.tls_ca_file.empty()) {
    if (has_cert) return absl::InvalidArgumentError("tls_cert/tls_key need tls_ca (TLS)");
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadPemFile("tls_ca", options.tls_ca_file);
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *std::move(ca);
  if (has_cert) {
    absl::StatusOr<std::string> cert = ReadPemFile("tls_cert", options.tls_cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPemFile("tls_key", options.tls_key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

// Register, GetImage and ListImages are bounded too, so that a stalled server cannot hang a caller.
constexpr absl::Duration kImageCallDeadline = absl::Seconds(60);

void BoundImageCall(grpc::ClientContext& context) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + kImageCallDeadline));
}

}  // namespace

void CallCanceller::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  // TryCancel is safe from any thread while the context is alive; Detach (under the same mutex)
  // runs before the context is destroyed.
  if (context_ != nullptr) context_->TryCancel();
}

bool CallCanceller::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

bool CallCanceller::Attach(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  context_ = context;
  return true;
}

void CallCanceller::Detach() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

absl::Duration DefaultExecuteDeadline(const v1::Manifest& manifest) {
  const int64_t timeout_ms = manifest.timeout_ms() > 0 ? manifest.timeout_ms() : 10'000;
  return absl::Milliseconds(timeout_ms) + kDeadlineMargin;
}

absl::StatusOr<std::unique_ptr<RemoteClient>> RemoteClient::Create(const ClientOptions& options) {
  if (options.address.empty()) return absl::InvalidArgumentError("server address: empty");
  if (options.max_message_bytes <= 0) {
    return absl::InvalidArgumentError("max_message_bytes: must be > 0");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();
  absl::StatusOr<ChannelTarget> target = ChannelTargetFor(options.address);
  if (!target.ok()) return target.status();
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  // Round-robin over every address, a call a replica could not serve retried on another
  // (channel_target.h); the resolver's own service config (DNS TXT records) may not replace it.
  args.SetServiceConfigJSON(std::string(kServiceConfigJson));
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // A fixed HTTP/2 window for what the server streams back: the one gRPC's bandwidth probe grows
  // (many MiB) makes a long stream's reads land in fresh pages and holds more memory than needed.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1 << 20);
  // A call can be retried only while its request is buffered: the default (256 KiB) would leave
  // an Execute with an inline image or large inputs unretried. The buffer holds the request
  // message already built, not a copy.
  args.SetInt(GRPC_ARG_PER_RPC_RETRY_BUFFER_SIZE, options.max_message_bytes);
  if (!target->authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, target->authority);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target->target, *credentials, args);
  return std::unique_ptr<RemoteClient>(new RemoteClient(std::move(channel)));
}

RemoteClient::RemoteClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(v1::Sandbox::NewStub(channel_)) {}

absl::StatusOr<v1::RegisterImageResponse> RemoteClient::RegisterTree(absl::string_view tar,
                                                                     absl::string_view name) {
  v1::RegisterImageRequest request;
  request.set_tree_tar(std::string(tar));
  request.set_name(std::string(name));
  v1::RegisterImageResponse response;
  grpc::ClientContext context;
  BoundImageCall(context);
  grpc::Status status = stub_->RegisterImage(&context, request, &response);
  if (!status.ok()) return api::FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::RegisterImageResponse> RemoteClient::Register(absl::string_view elf,
                                                                 absl::string_view name) {
  v1::RegisterImageRequest request;
  request.set_elf(std::string(elf));
  request.set_name(std::string(name));
  v1::RegisterImageResponse response;
  grpc::ClientContext context;
  BoundImageCall(context);
  grpc::Status status = stub_->RegisterImage(&context, request, &response);
  if (!status.ok()) return api::FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ExecuteResponse> RemoteClient::Call(const v1::ExecuteRequest& request,
                                                       absl::Time deadline,
                                                       CallCanceller* canceller) {
  // Why: a draining server's refusal at the door (api::IsDrainingRefusal) means the call was
  // never accepted, so sending it again is safe; gRPC's own retry (kServiceConfigJson) did not
  // always resend it (seen under ASan: one refusal of 1,000 calls reached the caller while a
  // replica drained), and a caller must not see one replica's restart.
  absl::Duration backoff = absl::Milliseconds(50);
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    if (canceller != nullptr && !canceller->Attach(&context)) {
      return absl::CancelledError("cancelled before the call started");
    }
    v1::ExecuteResponse response;
    grpc::Status status = stub_->Execute(&context, request, &response);
    if (canceller != nullptr) canceller->Detach();
    if (status.ok()) return response;
    absl::Status failed = api::FromGrpcStatus(status);
    if (!api::IsDrainingRefusal(failed) || attempt == kDrainingRefusalAttempts ||
        absl::Now() + backoff >= deadline) {
      return failed;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

absl::StatusOr<v1::ExecuteResponse> RemoteClient::ExecuteById(absl::string_view image_id,
                                                              v1::Manifest manifest,
                                                              const ExecuteOptions& options) {
  const absl::Duration budget =
      options.deadline > absl::ZeroDuration() ? options.deadline : DefaultExecuteDeadline(manifest);
  v1::ExecuteRequest request;
  request.set_image_id(std::string(image_id));
  *request.mutable_manifest() = std::move(manifest);
  {
    absl::MutexLock lock(&mu_);
    ++stats_.executes_by_id;
  }
  return Call(request, absl::Now() + budget, options.canceller);
}

absl::StatusOr<v1::ExecuteResponse> RemoteClient::Execute(absl::string_view elf,
                                                          v1::Manifest manifest,
                                                          const ExecuteOptions& options) {
  const absl::Duration budget =
      options.deadline > absl::ZeroDuration() ? options.deadline : DefaultExecuteDeadline(manifest);
  const absl::Time deadline = absl::Now() + budget;
  if (elf.empty() && !manifest.program_path().empty()) {
    // The program is a path in the mounted trees: nothing to name or upload.
    v1::ExecuteRequest request;
    *request.mutable_manifest() = std::move(manifest);
    return Call(request, deadline, options.canceller);
  }
  if (elf.empty()) return absl::InvalidArgumentError("image: empty");
  const std::string id = image::ImageIdOf(std::string_view(elf.data(), elf.size()));

  // By id first: a cached image costs the server nothing to find, and the bytes stay here. The
  // same request (its manifest moved in once) serves the retry.
  v1::ExecuteRequest request;
  request.set_image_id(id);
  *request.mutable_manifest() = std::move(manifest);
  {
    absl::MutexLock lock(&mu_);
    ++stats_.executes_by_id;
  }
  absl::StatusOr<v1::ExecuteResponse> response = Call(request, deadline, options.canceller);
  if (response.status().code() != absl::StatusCode::kNotFound) return response;

  // NOT_FOUND (never registered, or evicted): once more with the bytes, which the server
  // validates and caches exactly as RegisterImage would.
  {
    absl::MutexLock lock(&mu_);
    ++stats_.image_uploads;
  }
  request.set_image(std::string(elf));
  return Call(request, deadline, options.canceller);
}

absl::Status RemoteClient::BatchCall(
    const v1::ExecuteBatchRequest& request, absl::Time deadline, CallCanceller* canceller,
    const std::function<void(const v1::ExecuteBatchResult&)>& on_result, bool* any_result) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  if (canceller != nullptr && !canceller->Attach(&context)) {
    return absl::CancelledError("cancelled before the call started");
  }
  std::unique_ptr<grpc::ClientReader<v1::ExecuteBatchResult>> reader =
      stub_->ExecuteBatch(&context, request);
  v1::ExecuteBatchResult result;
  while (reader->Read(&result)) {
    *any_result = true;
    on_result(result);
  }
  grpc::Status status = reader->Finish();
  if (canceller != nullptr) canceller->Detach();
  return api::FromGrpcStatus(status);
}

absl::Status RemoteClient::ExecuteBatch(
    absl::string_view elf, std::vector<v1::Manifest> runs, int parallelism,
    const std::function<void(const v1::ExecuteBatchResult&)>& on_result,
    const ExecuteOptions& options) {
  const bool by_path = elf.empty();
  if (by_path) {
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].program_path().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("image: empty, and runs[", i, "].program_path names no program either"));
      }
    }
  }
  absl::Duration budget = options.deadline;
  if (budget <= absl::ZeroDuration()) {
    budget = kDeadlineMargin;
    for (const v1::Manifest& m : runs) budget += DefaultExecuteDeadline(m) - kDeadlineMargin;
  }
  const absl::Time deadline = absl::Now() + budget;
  v1::ExecuteBatchRequest request;
  if (!by_path) request.set_image_id(image::ImageIdOf(std::string_view(elf.data(), elf.size())));
  request.set_parallelism(parallelism);
  for (v1::Manifest& m : runs) *request.add_runs() = std::move(m);
  {
    absl::MutexLock lock(&mu_);
    ++stats_.executes_by_id;
  }
  bool any_result = false;
  absl::Status status = BatchCall(request, deadline, options.canceller, on_result, &any_result);
  // By path a NOT_FOUND names a tree or a path, which no upload of an image would mend.
  if (by_path) return status;
  // NOT_FOUND for the image comes before any result (the image is resolved first).
  if (status.code() != absl::StatusCode::kNotFound || any_result) return status;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.image_uploads;
  }
  request.set_image(std::string(elf));
  return BatchCall(request, deadline, options.canceller, on_result, &any_result);
}

RemoteStream::~RemoteStream() {
  if (stream_ != nullptr && !finished_) {
    context_.TryCancel();
    (void)stream_->Finish();
  }
  if (canceller_ != nullptr) canceller_->Detach();
}

bool RemoteStream::Send(absl::string_view alias, std::string data, bool end) {
  absl::MutexLock lock(&write_mu_);
  if (write_closed_) return false;
  v1::StreamRequest request;
  v1::StreamInput* input = request.mutable_input();
  input->set_alias(std::string(alias));
  input->set_data(std::move(data));
  input->set_end(end);
  return stream_->Write(request);
}

void RemoteStream::CloseInput() {
  absl::MutexLock lock(&write_mu_);
  if (write_closed_) return;
  write_closed_ = true;
  stream_->WritesDone();
}

bool RemoteStream::Next(v1::StreamOutput* chunk) {
  v1::StreamResponse response;
  while (!result_.has_value() && stream_->Read(&response)) {
    if (response.has_output()) {
      chunk->Swap(response.mutable_output());
      return true;
    }
    if (response.has_result()) result_ = std::move(*response.mutable_result());
  }
  return false;
}

absl::StatusOr<v1::ExecuteResponse> RemoteStream::Finish() {
  v1::StreamResponse ignored;
  while (!result_.has_value() && stream_->Read(&ignored)) {
    if (ignored.has_result()) result_ = std::move(*ignored.mutable_result());
  }
  {
    absl::MutexLock lock(&write_mu_);
    write_closed_ = true;
  }
  finished_ = true;
  grpc::Status status = stream_->Finish();
  if (canceller_ != nullptr) canceller_->Detach();
  canceller_ = nullptr;
  if (!status.ok()) return api::FromGrpcStatus(status);
  if (!result_.has_value()) return absl::InternalError("the stream ended without a result");
  return *std::move(result_);
}

void RemoteStream::Cancel() { context_.TryCancel(); }

absl::StatusOr<std::unique_ptr<RemoteStream>> RemoteClient::ExecuteStream(
    absl::string_view elf, v1::Manifest manifest, const ExecuteOptions& options) {
  const bool by_path = elf.empty() && !manifest.program_path().empty();
  if (elf.empty() && !by_path) return absl::InvalidArgumentError("image: empty");
  const absl::Duration budget =
      options.deadline > absl::ZeroDuration() ? options.deadline : DefaultExecuteDeadline(manifest);
  const std::string id = by_path ? "" : image::ImageIdOf(std::string_view(elf.data(), elf.size()));
  absl::StatusOr<v1::Image> known = by_path ? v1::Image() : GetImage(id);
  if (known.status().code() == absl::StatusCode::kNotFound) {
    {
      absl::MutexLock lock(&mu_);
      ++stats_.image_uploads;
    }
    absl::StatusOr<v1::RegisterImageResponse> registered = Register(elf);
    if (!registered.ok()) return registered.status();
  } else if (!known.ok()) {
    return known.status();
  }
  auto stream = std::unique_ptr<RemoteStream>(new RemoteStream());
  stream->context_.set_deadline(absl::ToChronoTime(absl::Now() + budget));
  if (options.canceller != nullptr) {
    if (!options.canceller->Attach(&stream->context_)) {
      return absl::CancelledError("cancelled before the call started");
    }
    stream->canceller_ = options.canceller;
  }
  stream->stream_ = stub_->ExecuteStream(&stream->context_);
  v1::StreamRequest start;
  if (!by_path) start.mutable_start()->set_image_id(id);
  *start.mutable_start()->mutable_manifest() = std::move(manifest);
  {
    absl::MutexLock lock(&mu_);
    ++stats_.executes_by_id;
  }
  if (!stream->stream_->Write(start)) {
    // The server ended the call at once; Finish has why.
    absl::StatusOr<v1::ExecuteResponse> ended = stream->Finish();
    return ended.ok() ? absl::InternalError("the stream ended at its start") : ended.status();
  }
  return stream;
}

absl::StatusOr<v1::Image> RemoteClient::GetImage(absl::string_view image_id) {
  v1::GetImageRequest request;
  request.set_image_id(std::string(image_id));
  v1::Image response;
  grpc::ClientContext context;
  BoundImageCall(context);
  grpc::Status status = stub_->GetImage(&context, request, &response);
  if (!status.ok()) return api::FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ServerInfo> RemoteClient::GetServerInfo() {
  v1::ServerInfo response;
  grpc::ClientContext context;
  BoundImageCall(context);
  grpc::Status status = stub_->GetServerInfo(&context, v1::GetServerInfoRequest(), &response);
  if (!status.ok()) return api::FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ListImagesResponse> RemoteClient::ListImages(int32_t page_size,
                                                                absl::string_view page_token) {
  v1::ListImagesRequest request;
  request.set_page_size(page_size);
  request.set_page_token(std::string(page_token));
  v1::ListImagesResponse response;
  grpc::ClientContext context;
  BoundImageCall(context);
  grpc::Status status = stub_->ListImages(&context, request, &response);
  if (!status.ok()) return api::FromGrpcStatus(status);
  return response;
}

ClientStats RemoteClient::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace zerocell::client
