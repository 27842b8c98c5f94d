// ChannelTargetFor: address lists become ipv4:/ipv6: targets, everything else passes as is, bad
// entries are named; the service config parses and holds the retry policy the docs promise.
#include "client/channel_target.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client {
namespace {

using ::testing::HasSubstr;

TEST(ChannelTargetTest, SingleAddressesAndUrisPassThrough) {
  for (const char* address : {"127.0.0.1:50051", "localhost:50051",
                              "dns:///zerocell-headless.ns.svc:50051", "dns://10.0.0.10/name:50051",
                              "ipv4:127.0.0.1:1,127.0.0.1:2", "unix:/run/zc.sock", "[::1]:50051"}) {
    absl::StatusOr<ChannelTarget> t = ChannelTargetFor(address);
    ASSERT_THAT(t, IsOk()) << address;
    EXPECT_EQ(t->target, address);
    EXPECT_EQ(t->authority, "");
  }
}

TEST(ChannelTargetTest, Ipv4ListBecomesOneTargetWithFirstEntryAsAuthority) {
  absl::StatusOr<ChannelTarget> t = ChannelTargetFor("127.0.0.1:5001,127.0.0.2:5002,10.1.2.3:80");
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->target, "ipv4:127.0.0.1:5001,127.0.0.2:5002,10.1.2.3:80");
  EXPECT_EQ(t->authority, "127.0.0.1:5001");
}

TEST(ChannelTargetTest, Ipv6ListUsesBrackets) {
  absl::StatusOr<ChannelTarget> t = ChannelTargetFor("[::1]:5001,[fe80::1]:5002");
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->target, "ipv6:[::1]:5001,[fe80::1]:5002");
  EXPECT_EQ(t->authority, "[::1]:5001");
}

TEST(ChannelTargetTest, BadListsNameTheEntry) {
  struct Case {
    const char* address;
    const char* message;
  };
  for (const Case& c : {
           Case{"", "server address: empty"},
           Case{"127.0.0.1:1,", "\"\": empty entry"},
           Case{"127.0.0.1:1,host-b:2", "\"host-b:2\": not an IPv4 address"},
           Case{"127.0.0.1:1,127.0.0.1", "\"127.0.0.1\": no port"},
           Case{"127.0.0.1:1,127.0.0.1:0", "\"127.0.0.1:0\": port must be 1..65535"},
           Case{"127.0.0.1:1,127.0.0.1:70000", "port must be 1..65535"},
           Case{"127.0.0.1:1,127.0.0.1:x", "port must be 1..65535"},
           Case{"[::1:1,[::1]:2", "expected [IPv6]:PORT"},
           Case{"127.0.0.1:1,[::1]:2", "cannot be mixed"},
       }) {
    absl::StatusOr<ChannelTarget> t = ChannelTargetFor(c.address);
    ASSERT_THAT(t, ::testing::Not(IsOk())) << c.address;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(t.status().message(), HasSubstr(c.message)) << c.address;
  }
  EXPECT_THAT(ChannelTargetFor("a:1,b:2").status().message(), HasSubstr("dns:///NAME:PORT"));
}

// gRPC accepts the service config: once the ipv4: resolver has run, the channel reports the
// policy and config it uses (an invalid config leaves them empty), and the config holds the
// retry policy docs/deployment.md promises.
TEST(ChannelTargetTest, ServiceConfigIsAcceptedByGrpc) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(std::string(kServiceConfigJson));
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      "ipv4:127.0.0.1:1,127.0.0.1:2", grpc::InsecureChannelCredentials(), args);
  channel->GetState(true);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (channel->GetLoadBalancingPolicyName().empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(channel->GetLoadBalancingPolicyName(), "round_robin");
  const std::string config = channel->GetServiceConfigJSON();
  EXPECT_THAT(config, HasSubstr("retryPolicy")) << config;
  EXPECT_THAT(config, HasSubstr(R"("retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"])"))
      << config;
  EXPECT_THAT(config, HasSubstr(R"("service": "zerocell.v1.Sandbox")")) << config;
}

}  // namespace
}  // namespace zerocell::client
