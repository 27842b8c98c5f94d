// Which image namespace a call belongs to.
#include "server/client_identity.h"

#include <grpc/grpc_security_constants.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace zerocell::server {
namespace {

constexpr size_t kMaxIdentityBytes = 256;

bool ValidMetadataKey(absl::string_view key) {
  // gRPC keys are lowercase; "-bin" keys carry binary values; "grpc-" keys are the protocol's.
  return !key.empty() && !absl::StartsWith(key, "grpc-") && !absl::EndsWith(key, "-bin") &&
         std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.';
         });
}

bool Printable(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

absl::StatusOr<NamespaceMode> ParseNamespaceMode(absl::string_view value) {
  NamespaceMode mode;
  if (value == "none" || value.empty()) return mode;
  if (value == "client_cert") {
    mode.kind = NamespaceMode::Kind::kClientCert;
    return mode;
  }
  if (absl::ConsumePrefix(&value, "header:") && ValidMetadataKey(value)) {
    mode.kind = NamespaceMode::Kind::kHeader;
    mode.header = std::string(value);
    return mode;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--image_namespace: \"", value,
      "\" is not none, client_cert or header:<lowercase metadata key, not grpc-*, not *-bin>"));
}

absl::StatusOr<std::string> NamespaceOf(const NamespaceMode& mode,
                                        const grpc::CallbackServerContext& context) {
  switch (mode.kind) {
    case NamespaceMode::Kind::kNone:
      return std::string();
    case NamespaceMode::Kind::kClientCert: {
      const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
      if (auth == nullptr || !auth->IsPeerAuthenticated()) {
        return absl::UnauthenticatedError(
            "images are per client (--image_namespace=client_cert): the call has no verified "
            "client certificate");
      }
      const std::vector<grpc::string_ref> subject =
          auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME);
      if (subject.empty() || subject[0].empty() || subject[0].size() > 4 * kMaxIdentityBytes) {
        return absl::UnauthenticatedError(
            "images are per client (--image_namespace=client_cert): the client certificate has "
            "no usable subject");
      }
      return absl::StrCat("cert:", absl::string_view(subject[0].data(), subject[0].size()));
    } break;
    case NamespaceMode::Kind::kHeader: {
      const auto& metadata = context.client_metadata();
      auto it = metadata.find(mode.header);
      if (it == metadata.end() || it->second.empty() || it->second.size() > kMaxIdentityBytes ||
          !Printable(absl::string_view(it->second.data(), it->second.size()))) {
        return absl::UnauthenticatedError(absl::StrCat(
            "images are per client (--image_namespace=header:", mode.header, "): the call needs ",
            mode.header, " metadata of 1..", kMaxIdentityBytes, " printable characters"));
      }
      return absl::StrCat("header:", absl::string_view(it->second.data(), it->second.size()));
    }
  }
  return std::string();  // unreachable: every kind is handled above
}

}  // namespace zerocell::server
