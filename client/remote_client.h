// C++ client of the zerocell.v1.Sandbox service: connects (plain, TLS or mutual TLS), registers
// images, and executes programs by content id, uploading an image only when the server lacks it.
#ifndef ZEROCELL_CLIENT_REMOTE_CLIENT_H_
#define ZEROCELL_CLIENT_REMOTE_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "zerocell/v1/sandbox.grpc.pb.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// Default largest gRPC message, both directions: zerocelld's --max_message_bytes default. A
// response can carry a full default output limit (64 MiB) plus proto overhead, and a request an
// image (up to 64 MiB) plus inline inputs, so anything smaller refuses what a default server sends.
inline constexpr int kDefaultMaxMessageBytes = 160 << 20;

struct ClientOptions {
  // Where the server or its replicas are: "host:port", a list "IP:PORT,IP:PORT,...", or any
  // gRPC target such as "dns:///zerocell-headless.ns.svc:50051" (ChannelTargetFor). Calls are
  // spread round-robin over every address, and one that ends UNAVAILABLE (a replica draining or
  // gone) is retried on another (kServiceConfigJson).
  std::string address = "";
  // PEM file of the CA that signed the server's certificate. Non-empty: TLS; empty: plaintext.
  // The PEM files are read as every CLI input file ("-": this process's stdin).
  std::string tls_ca_file = "";
  // PEM files of this client's certificate chain and private key, for servers that require
  // mutual TLS. Both or neither; only with tls_ca_file.
  std::string tls_cert_file = "";
  std::string tls_key_file = "";
  // Largest message sent or received (an image upload, an ExecuteResponse with outputs). Keep it
  // at least the server's --max_message_bytes, or responses the server may send are refused.
  int max_message_bytes = kDefaultMaxMessageBytes;
};

// Cancels a call in flight from another thread (e.g. a signal-watching thread of the CLI). One
// handle may serve several calls in turn; once cancelled, it cancels every later call at once.
class CallCanceller {
 public:
  // Thread-safe. The call in flight ends with CANCELLED (the server kills its sandbox).
  void Cancel();
  bool cancelled() const;

 private:
  friend class RemoteClient;
  friend class RemoteStream;
  // Makes `context` the call in flight; false (and nothing attached) when already cancelled.
  bool Attach(grpc::ClientContext* context);
  void Detach();

  mutable absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

struct ExecuteOptions {
  // How long the whole Execute may take, NOT_FOUND retry included. Zero: the manifest's timeout
  // (10 s when unset) plus kDeadlineMargin.
  absl::Duration deadline = absl::ZeroDuration();
  // Optional; not owned. Cancel() on it ends the call.
  CallCanceller* canceller = nullptr;
};

// Added to the manifest's timeout for the default call deadline: the server's admission queue
// wait (default cap 1 s), sandbox start and teardown, image validation on an upload, and moving
// inputs and outputs of up to max_message_bytes over a slow link. A run that ends by its own
// timeout always answers well before the call deadline, so TIMEOUT stays an outcome, never a
// DEADLINE_EXCEEDED.
inline constexpr absl::Duration kDeadlineMargin = absl::Seconds(30);
// Times an Execute refused at the door by a draining server is sent, with a backoff from 50 ms
// doubling to 1 s, within its deadline (on top of gRPC's own retries of UNAVAILABLE).
inline constexpr int kDrainingRefusalAttempts = 5;

// Counters of what this client sent, for callers and tests that check the upload discipline.
struct ClientStats {
  int64_t executes_by_id = 0;  // Execute requests that named the image by id
  int64_t image_uploads = 0;   // Execute requests that carried the image inline (after NOT_FOUND)
};

// One ExecuteStream call in progress (RemoteClient::ExecuteStream). One thread may send while
// another reads; Cancel may come from any thread. Destroying it cancels a call still going.
class RemoteStream {
 public:
  ~RemoteStream();
  RemoteStream(const RemoteStream&) = delete;
  RemoteStream& operator=(const RemoteStream&) = delete;

  // Input for the readable channel `alias` ("" means /dev/stdin); `end`: its last bytes. Blocks
  // while the server's window is full (the guest has not read enough yet). False once the stream
  // is over (Finish says why).
  bool Send(absl::string_view alias, std::string data, bool end);
  // No more input for any channel (each not yet ended reads end of data).
  void CloseInput();
  // The next output chunk, as the guest wrote it; false when the run is over (Finish then has
  // the result).
  bool Next(v1::StreamOutput* chunk);
  // After Next returned false: the result as Execute reports it (streamed channels' output
  // empty), or the call's error.
  absl::StatusOr<v1::ExecuteResponse> Finish();
  // Ends the call at once (the server kills the sandbox). Thread-safe.
  void Cancel();

 private:
  friend class RemoteClient;
  RemoteStream() = default;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::StreamRequest, v1::StreamResponse>> stream_;
  std::optional<v1::ExecuteResponse> result_;
  absl::Mutex write_mu_;
  bool write_closed_ ABSL_GUARDED_BY(write_mu_) = false;
  bool finished_ = false;
  CallCanceller* canceller_ = nullptr;  // attached to context_ until Finish
};

// Thread-safe: one client may serve concurrent calls (gRPC channels multiplex).
class RemoteClient {
 public:
  // Reads the TLS files and creates the channel (connection is lazy: an unreachable server shows
  // up as UNAVAILABLE on the first call). INVALID_ARGUMENT / NOT_FOUND name the option and file.
  static absl::StatusOr<std::unique_ptr<RemoteClient>> Create(const ClientOptions& options);

  // RegisterImage. A rejected image is INVALID_ARGUMENT; api::RejectionReportOf(status)
  // (rpc_status.h) gives its ValidationReport.
  absl::StatusOr<v1::RegisterImageResponse> Register(absl::string_view elf,
                                                     absl::string_view name = "");
  // RegisterImage of a file tree: `tar` is an uncompressed tar archive. A rejected tree is
  // INVALID_ARGUMENT naming the entry or the refused ELF file; for a refused ELF,
  // api::RejectionReportOf(status) gives its report (tree_path set).
  absl::StatusOr<v1::RegisterImageResponse> RegisterTree(absl::string_view tar,
                                                         absl::string_view name = "");

  // Runs `elf` under `manifest`: first by id (ImageIdOf(elf)); only when the server answers
  // NOT_FOUND, once more with the image inline. Guest outcomes are data in the response; RPC
  // errors are absl::Status (api::FromGrpcStatus), a rejected image's report as for Register.
  // `manifest` is taken by value and moved into the request: pass a temporary or std::move it so
  // that large inline inputs are not copied. An empty `elf` with manifest.program_path set runs
  // that path in the manifest's mounted trees (registered beforehand, RegisterTree).
  absl::StatusOr<v1::ExecuteResponse> Execute(absl::string_view elf, v1::Manifest manifest,
                                              const ExecuteOptions& options = {});

  // Runs an image the server already has, by id; no retry. `manifest` as for Execute.
  absl::StatusOr<v1::ExecuteResponse> ExecuteById(absl::string_view image_id, v1::Manifest manifest,
                                                  const ExecuteOptions& options = {});

  // ExecuteBatch: `elf` under each manifest of `runs` (moved into the request), by id first and,
  // when the server answers NOT_FOUND before any result, once more with the image inline. An
  // empty `elf` when every run names its program by manifest.program_path: no image is sent.
  // `on_result` sees each run's result as it arrives (completion order, tagged with its index) on
  // the calling thread; the call waits for it, so a slow callback holds the batch back rather
  // than buffering results. `parallelism` 0: the server's batch share. The status is the call's:
  // OK when every run got a result (each may be an outcome or a per-run error), else why the
  // batch stopped (results already delivered stand). Default deadline: the sum of the runs'
  // timeouts plus kDeadlineMargin.
  absl::Status ExecuteBatch(absl::string_view elf, std::vector<v1::Manifest> runs, int parallelism,
                            const std::function<void(const v1::ExecuteBatchResult&)>& on_result,
                            const ExecuteOptions& options = {});

  // ExecuteStream of `elf` under `manifest`: the image is registered first when the server does
  // not have it (GetImage, then RegisterImage), so that the stream never has to be replayed.
  // Default deadline: the manifest's timeout plus kDeadlineMargin. options.canceller cancels it
  // until Finish. An empty `elf` with manifest.program_path set: as for Execute.
  absl::StatusOr<std::unique_ptr<RemoteStream>> ExecuteStream(absl::string_view elf,
                                                              v1::Manifest manifest,
                                                              const ExecuteOptions& options = {});

  // GetServerInfo: version, caps, policy and the server's host report.
  absl::StatusOr<v1::ServerInfo> GetServerInfo();

  absl::StatusOr<v1::Image> GetImage(absl::string_view image_id);

  // One page (page_size 0: the server's default).
  absl::StatusOr<v1::ListImagesResponse> ListImages(int32_t page_size = 0,
                                                    absl::string_view page_token = "");

  ClientStats stats() const;

 private:
  explicit RemoteClient(std::shared_ptr<grpc::Channel> channel);

  // One Execute RPC with `request`, bounded by `deadline` and cancellable by `canceller`.
  absl::StatusOr<v1::ExecuteResponse> Call(const v1::ExecuteRequest& request, absl::Time deadline,
                                           CallCanceller* canceller);

  // One ExecuteBatch RPC; *any_result tells whether a result arrived.
  absl::Status BatchCall(const v1::ExecuteBatchRequest& request, absl::Time deadline,
                         CallCanceller* canceller,
                         const std::function<void(const v1::ExecuteBatchResult&)>& on_result,
                         bool* any_result);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
  mutable absl::Mutex mu_;
  ClientStats stats_ ABSL_GUARDED_BY(mu_);
};

// The call deadline ExecuteOptions' default gives for `manifest`, measured from now.
absl::Duration DefaultExecuteDeadline(const v1::Manifest& manifest);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_REMOTE_CLIENT_H_
