// Remote runs over ExecuteStream for the CLI; see stream_run.h.
#include "client/stream_run.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli_files.h"
#include "sandbox/input_source.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::client {
namespace {

constexpr size_t kChunk = 64 << 10;

// Sends one source to its channel until its end, the stream's end, or `stop` (an eventfd).
void Pump(RemoteStream* stream, const std::string& alias, sandbox::InputSource* source, int stop) {
  std::string chunk;
  if (std::optional<uint64_t> size = source->size(); size.has_value()) {
    std::string scratch;
    for (uint64_t offset = 0; offset < *size;) {
      absl::StatusOr<std::string_view> piece = source->ReadAt(offset, kChunk, &scratch);
      if (!piece.ok() || piece->empty()) break;
      offset += piece->size();
      if (!stream->Send(alias, std::string(*piece), false)) return;
    }
    (void)stream->Send(alias, "", true);
    return;
  }
  for (;;) {
    absl::StatusOr<sandbox::InputSource::Next> next = source->Pull(kChunk, &chunk);
    if (!next.ok() || *next == sandbox::InputSource::Next::kEnd) break;
    if (*next == sandbox::InputSource::Next::kData) {
      if (!stream->Send(alias, std::move(chunk), false)) return;
      continue;
    }
    pollfd fds[2] = {{source->ready_fd(), POLLIN, 0}, {stop, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) return;  // the run is over: nobody reads the rest
  }
  (void)stream->Send(alias, "", true);
}

}  // namespace

bool StreamableManifest(const v1::Manifest& manifest) {
  for (const v1::Channel& c : manifest.channels()) {
    const bool readable = c.gets() > 0 && c.get_size() > 0;
    const bool writable = c.puts() > 0 && c.put_size() > 0;
    if (c.type() != v1::CHANNEL_TYPE_SEQ_READ_SEQ_WRITE || (readable && writable)) return false;
  }
  return true;
}

absl::StatusOr<v1::ExecuteResponse> ExecuteStreamed(RemoteClient& client, const std::string& elf,
                                                    v1::Manifest manifest,
                                                    const ChannelInputs* inputs,
                                                    absl::Span<const OutputBinding> live,
                                                    std::set<std::string>* streamed,
                                                    CallCanceller* canceller) {
  std::map<std::string, int> live_fds;
  for (const OutputBinding& binding : live) {
    if (IsTerminalTarget(binding.path)) {
      live_fds[binding.alias] = binding.path == "/dev/stderr" ? STDERR_FILENO : STDOUT_FILENO;
    }
  }
  std::vector<std::pair<std::string, sandbox::InputSource*>> sources;
  std::vector<std::string> ended_at_once;
  for (int i = 0; i < manifest.channels_size(); ++i) {
    const v1::Channel& c = manifest.channels(i);
    if (c.gets() <= 0 || c.get_size() <= 0) continue;
    sandbox::InputSource* source =
        inputs != nullptr && static_cast<size_t>(i) < inputs->sources.size()
            ? inputs->sources[static_cast<size_t>(i)].get()
            : nullptr;
    if (source != nullptr) {
      sources.emplace_back(c.alias(), source);
    } else {
      ended_at_once.push_back(c.alias());
    }
  }
  absl::StatusOr<std::unique_ptr<RemoteStream>> stream =
      client.ExecuteStream(elf, std::move(manifest), ExecuteOptions{.canceller = canceller});
  if (!stream.ok()) return stream.status();
  for (const std::string& alias : ended_at_once) (void)(*stream)->Send(alias, "", true);

  sandbox::sys::UniqueFd stop(eventfd(0, EFD_CLOEXEC));
  if (!stop.valid()) return absl::InternalError("eventfd for the input pumps failed");
  std::vector<std::thread> pumps;
  for (const auto& [alias, source] : sources) {
    pumps.emplace_back(Pump, stream->get(), alias, source, stop.get());
  }
  std::map<std::string, std::string> kept;
  v1::StreamOutput chunk;
  while ((*stream)->Next(&chunk)) {
    if (auto it = live_fds.find(chunk.alias()); it != live_fds.end()) {
      (void)WriteAllToFd(it->second, chunk.data());
      if (streamed != nullptr) streamed->insert(chunk.alias());
    } else {
      kept[chunk.alias()] += chunk.data();
    }
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop.get(), &one, sizeof one);
  (*stream)->CloseInput();
  absl::StatusOr<v1::ExecuteResponse> response = (*stream)->Finish();
  for (std::thread& t : pumps) t.join();
  if (!response.ok()) return response;
  for (v1::ChannelResult& channel : *response->mutable_channels()) {
    if (auto it = kept.find(channel.alias()); it != kept.end()) {
      *channel.mutable_output() = std::move(it->second);
    }
  }
  // Live channels that wrote nothing are "streamed" too: nothing is left to print for them.
  if (streamed != nullptr) {
    for (const auto& [alias, fd] : live_fds) streamed->insert(alias);
  }
  return response;
}

}  // namespace zerocell::client
