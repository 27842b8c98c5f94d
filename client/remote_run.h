// Remote mode of the zerocell CLI: the connection flags (--server, --tls_*) and running a program
// on a zerocelld with the same checks, outputs and exit codes as local mode.
#ifndef ZEROCELL_CLIENT_REMOTE_RUN_H_
#define ZEROCELL_CLIENT_REMOTE_RUN_H_

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "client/cli_args.h"
#include "client/input_files.h"
#include "client/local_run.h"
#include "client/remote_client.h"
#include "client/tree_mounts.h"
#include "google/protobuf/message.h"
#include "sandbox/manifest/manifest.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// The connection flags every remote-capable command accepts; each has an environment fallback.
inline constexpr absl::string_view kServerEnv = "ZEROCELL_SERVER";
inline constexpr absl::string_view kTlsCaEnv = "ZEROCELL_TLS_CA";
inline constexpr absl::string_view kTlsCertEnv = "ZEROCELL_TLS_CERT";
inline constexpr absl::string_view kTlsKeyEnv = "ZEROCELL_TLS_KEY";
inline constexpr FlagSpec kServerFlag = {
    "server", "ADDR", false,
    "run on the zerocelld at ADDR: HOST:PORT, IP:PORT,IP:PORT,... or dns:///NAME:PORT, calls "
    "spread round-robin ($ZEROCELL_SERVER)"};
inline constexpr FlagSpec kTlsCaFlag = {
    "tls_ca", "PEM", false, "CA certificate of the server: connect with TLS ($ZEROCELL_TLS_CA)"};
inline constexpr FlagSpec kTlsCertFlag = {"tls_cert", "PEM", false,
                                          "client certificate for mutual TLS ($ZEROCELL_TLS_CERT)"};
inline constexpr FlagSpec kTlsKeyFlag = {"tls_key", "PEM", false,
                                         "client private key for mutual TLS ($ZEROCELL_TLS_KEY)"};

// --policy of `zerocell run` and `zerocell manifest` (local mode).
inline constexpr FlagSpec kPolicyFlag = {
    "policy", "standard|deterministic", false,
    "instruction policy the program is admitted under, as a server would (default standard)"};

// The --policy value (standard when absent); INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<image::InstructionPolicy> PolicyFromArgs(const ParsedArgs& args);

// Connection settings from the flags, each falling back to its environment variable. An empty
// address means local mode.
ClientOptions ClientOptionsFromArgs(const ParsedArgs& args);

// INVALID_ARGUMENT naming the flag when TLS flags come without a server, or --loader with one
// (the loader is the server's business).
absl::Status CheckModeFlags(const ParsedArgs& args, const ClientOptions& options);

// Runs the program at `program_path` under `manifest` on the server. The ELF is checked here
// first exactly as in local mode (same messages, 127 missing, 126 not a static x86-64 ELF), then
// executed by id and uploaded only if the server lacks it. SIGINT/SIGTERM/SIGHUP cancel the call
// (the server kills the sandbox). On failure prints "zerocell: ..." (prefixed with
// `program_context` for program errors, e.g. "job.manifest: Program ") and returns nullopt with
// *exit_code set: 127/126 as above or when the server refuses the image (its refused instructions
// listed), 128+N interrupted by signal N, 2 invalid request (e.g. over a server cap), 125 anything
// else (server unreachable, overloaded, draining).
// When ExecuteStream can serve every channel (StreamableManifest) the run goes over it: `inputs`
// (nullable: host files the readable channels read) are sent as the guest reads them, channels
// in `live` bound to the CLI's stdout/stderr are written there as they arrive (aliases added to
// *streamed), as in local mode. Otherwise (random-access or read-write channels) it is an Execute
// with the inputs inline, read within the bounds of ReadInputsInline (an error there: exit 2, or
// 124 for a stream that outlasts the timeout).
// With `trees` (the archives the manifest mounts), those the server lacks are registered first;
// when the manifest names its program by path in them (program_path), no program file is read
// here.
std::optional<v1::ExecuteResponse> ExecuteRemotely(
    const ClientOptions& options, const std::string& program_path,
    absl::string_view program_context, const sandbox::Manifest& manifest, int* exit_code,
    const ChannelInputs* inputs = nullptr, absl::Span<const OutputBinding> live = {},
    std::set<std::string>* streamed = nullptr, const std::vector<TreeArchive>& trees = {});

// `zerocell run` and `zerocell manifest`: ExecuteRemotely when options.address is set, else the
// in-process engine (`loader` empty: beside this executable), with the channels in `live` shown
// as the guest writes them (their aliases added to *streamed) and the readable ones reading
// `inputs` (nullable) as the guest reads. `policy`: the instruction policy a local run admits the
// program under (a server applies its own). Same failure contract as ExecuteRemotely.
std::optional<v1::ExecuteResponse> ExecuteProgram(
    const ClientOptions& options, const std::string& loader, image::InstructionPolicy policy,
    const std::string& program_path, absl::string_view program_context,
    const sandbox::Manifest& manifest, absl::Span<const OutputBinding> live,
    std::set<std::string>* streamed, int* exit_code, const ChannelInputs* inputs = nullptr,
    const std::vector<TreeArchive>& trees = {});

// The program's bytes, read and checked as local mode's LoadProgram does (sandbox::ReadImageFile,
// then the ELF checks of sandbox::Image::FromBytes), hence the same messages and exit codes: 127
// missing or unreadable, 126 not a static x86-64 ELF. On error prints (prefixed with
// `program_context`) and sets *exit_code.
std::optional<std::string> ReadCheckedProgram(const std::string& path,
                                              absl::string_view program_context, int* exit_code);

// A remote-only command's parsed flags and its connected client.
struct Connected {
  ParsedArgs args;
  std::unique_ptr<RemoteClient> client;
};

// Parses `words` against `flags` and connects (--server or $ZEROCELL_SERVER is required); --help
// prints `help`. On failure (or --help) prints, sets *exit_code and returns nullopt.
std::optional<Connected> ParseAndConnect(absl::string_view command,
                                         absl::Span<const std::string> words,
                                         absl::Span<const FlagSpec> flags, const std::string& help,
                                         int* exit_code);

// One line of proto JSON on stdout (lowerCamelCase, int64 as strings, defaults included), as
// --json prints ExecuteResponse. False (and a message) when it could not be printed.
bool PrintMessageJson(const google::protobuf::Message& message);

// Exit status and stderr lines for an RPC error: 126 with the rejections for a refused image,
// 2 for other INVALID_ARGUMENT, else as ExitCodeForStatus. `what` prefixes the message.
int FailRpc(absl::string_view what, const absl::Status& status);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_REMOTE_RUN_H_
