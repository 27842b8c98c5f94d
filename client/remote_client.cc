// C++ client of the zerocell.v1.Sandbox service.
#include "client/remote_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  if (canceller != nullptr && !canceller->Attach(&context)) {
    return absl::CancelledError("cancelled before the call started");
  }
  v1::ExecuteResponse response;
  grpc::Status status = stub_->Execute(&context, request, &response);
  if (canceller != nullptr) canceller->Detach();
  if (!status.ok()) return api::FromGrpcStatus(status);
  return response;
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
  if (elf.empty()) return absl::InvalidArgumentError("image: empty");
  const absl::Duration budget =
      options.deadline > absl::ZeroDuration() ? options.deadline : DefaultExecuteDeadline(manifest);
  const absl::Time deadline = absl::Now() + budget;
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
