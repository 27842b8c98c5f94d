// Three real zerocelld replicas behind one client address list ("IP:PORT,IP:PORT,IP:PORT"):
// 1,000 Executes from 8 threads while one replica gets SIGTERM half-way (and, in the second
// test, one is SIGKILLed): every call succeeds with its own output, none is lost, the drained
// replica exits 0, and the replicas' own metrics show the calls spread over all of them.
// A call refused at the door of a draining server is sent again by the client.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "api/rpc_status.h"
#include "client/remote_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zerocelld_process.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client {
namespace {

using server::testing::HttpGet;
using ::testing::HasSubstr;
using ::zerocell::testing::ZerocelldProcess;

constexpr int kReplicas = 3;
constexpr int kClientThreads = 8;
constexpr int64_t kQuota = 1 << 16;

std::string Guest(const std::string& name) { return zerocell::testing::GuestBytes(name); }

v1::Manifest EchoManifest(int call) {
  v1::Manifest m;
  m.set_timeout_ms(10000);
  m.add_argv("echo_args");
  m.add_argv(absl::StrCat("call-", call));
  v1::Channel* in = m.add_channels();
  in->set_alias("/dev/stdin");
  in->set_gets(kQuota);
  in->set_get_size(kQuota);
  for (const char* alias : {"/dev/stdout", "/dev/stderr"}) {
    v1::Channel* out = m.add_channels();
    out->set_alias(alias);
    out->set_puts(kQuota);
    out->set_put_size(kQuota);
  }
  return m;
}

// zerocell_executions_total summed over its outcomes, from the replica's /metrics; -1 when the
// endpoint does not answer (the replica is gone).
double Executions(int metrics_port) {
  absl::StatusOr<std::string> text = HttpGet(metrics_port, "/metrics");
  if (!text.ok()) return -1;
  double total = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::StartsWith(line, "zerocell_executions_total{")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) total += value;
  }
  return total;
}

struct Replicas {
  std::vector<std::unique_ptr<ZerocelldProcess>> servers;
  std::string address;  // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
};

Replicas StartReplicas() {
  Replicas r;
  std::vector<std::string> addresses;
  for (int i = 0; i < kReplicas; ++i) {
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start({"--grace_period_ms=10000"});
    EXPECT_THAT(server, IsOk());
    if (!server.ok()) return r;
    addresses.push_back((*server)->grpc_address());
    r.servers.push_back(*std::move(server));
  }
  r.address = absl::StrJoin(addresses, ",");
  return r;
}

struct LoadResult {
  std::vector<std::string> failures;  // "call N: why", for calls that did not succeed
  int succeeded = 0;
  absl::Duration elapsed;
  double victim_executions_before = 0;  // the victim's count just before the signal
  ClientStats stats;
};

// `calls` Executes of echo_args from kClientThreads threads through one RemoteClient on
// `address`; when half have completed, `signal` goes to `victim`. Every response is checked:
// EXITED 0 with stdout naming its own call number.
LoadResult RunLoad(const std::string& address, int calls, ZerocelldProcess& victim, int signal) {
  const std::string elf = Guest("echo_args");
  absl::StatusOr<std::unique_ptr<RemoteClient>> client =
      RemoteClient::Create(ClientOptions{.address = address});
  EXPECT_THAT(client, IsOk());
  LoadResult result;
  if (!client.ok()) return result;
  absl::Mutex mu;
  std::atomic<int> next{0};
  std::atomic<int> completed{0};
  absl::Notification half_way;
  const absl::Time start = absl::Now();
  std::thread killer([&] {
    half_way.WaitForNotification();
    result.victim_executions_before = Executions(victim.metrics_port());
    EXPECT_THAT(victim.Signal(signal), IsOk());
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kClientThreads; ++t) {
    threads.emplace_back([&] {
      for (int call = next++; call < calls; call = next++) {
        absl::StatusOr<v1::ExecuteResponse> response = (*client)->Execute(elf, EchoManifest(call));
        std::string failure;
        if (!response.ok()) {
          failure = response.status().ToString();
        } else if (response->outcome() != v1::OUTCOME_EXITED || response->exit_code() != 0) {
          failure = absl::StrCat("outcome ", response->outcome(), " exit ", response->exit_code());
        } else if (!absl::StrContains(response->channels(1).output(),
                                      absl::StrCat("argv[1]=call-", call, "\n"))) {
          failure = absl::StrCat("wrong output: ", response->channels(1).output());
        }
        {
          absl::MutexLock lock(&mu);
          if (failure.empty()) {
            ++result.succeeded;
          } else {
            result.failures.push_back(absl::StrCat("call ", call, ": ", failure));
          }
        }
        if (++completed == calls / 2) half_way.Notify();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (!half_way.HasBeenNotified()) half_way.Notify();
  killer.join();
  result.elapsed = absl::Now() - start;
  result.stats = (*client)->stats();
  return result;
}

std::string Figures(const char* name, const LoadResult& load, const std::vector<double>& after) {
  return absl::StrCat(name, ": ", load.succeeded, " succeeded, ", load.failures.size(),
                      " failed in ", absl::FormatDuration(load.elapsed), " (",
                      static_cast<int>(load.succeeded / absl::ToDoubleSeconds(load.elapsed)),
                      " calls/s); executions per replica: victim ", load.victim_executions_before,
                      " before the signal, others ", absl::StrJoin(after, ", "),
                      "; executes by id ", load.stats.executes_by_id, ", image uploads ",
                      load.stats.image_uploads);
}

TEST(ReplicaTest, SigtermOfOneReplicaHalfWayLosesNoCall) {
  Replicas replicas = StartReplicas();
  ASSERT_EQ(replicas.servers.size(), static_cast<size_t>(kReplicas));
  constexpr int kCalls = 1000;
  ZerocelldProcess& victim = *replicas.servers[0];
  LoadResult load = RunLoad(replicas.address, kCalls, victim, SIGTERM);

  EXPECT_EQ(load.succeeded, kCalls);
  EXPECT_THAT(load.failures, ::testing::IsEmpty())
      << load.failures.size()
      << " calls failed, the first: " << (load.failures.empty() ? "" : load.failures.front());

  // The drained replica finished its calls and exited 0.
  absl::StatusOr<int> status = victim.WaitExit(absl::Seconds(30));
  ASSERT_THAT(status, IsOk());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status << "\n"
                                                               << victim.Logs();
  EXPECT_THAT(victim.Logs(), HasSubstr("\"event\":\"draining\""));
  // A lost call is diagnosed from the drained replica's log (request_failed lines, drain times).
  if (!load.failures.empty()) std::printf("victim's log:\n%s\n", victim.Logs().c_str());

  // Spread: round-robin gave the victim about a third of the first half, and the other two
  // replicas about half each of the rest.
  std::vector<double> after;
  for (int i = 1; i < kReplicas; ++i)
    after.push_back(Executions(replicas.servers[i]->metrics_port()));
  const std::string figures = Figures("sigterm", load, after);
  std::printf("%s\n", figures.c_str());
  RecordProperty("figures", figures);
  EXPECT_GE(load.victim_executions_before, kCalls / 2 / kReplicas / 2) << figures;
  for (double executions : after) EXPECT_GE(executions, kCalls / 4) << figures;
  // Everything after the signal ran on the two others.
  EXPECT_GE(after[0] + after[1], kCalls / 2) << figures;
}

// A replica that dies (SIGKILL: no drain, connections reset mid-call): its calls in flight end
// UNAVAILABLE and the retry policy sends them to the others.
TEST(ReplicaTest, SigkillOfOneReplicaHalfWayLosesNoCall) {
  Replicas replicas = StartReplicas();
  ASSERT_EQ(replicas.servers.size(), static_cast<size_t>(kReplicas));
  constexpr int kCalls = 400;
  ZerocelldProcess& victim = *replicas.servers[0];
  LoadResult load = RunLoad(replicas.address, kCalls, victim, SIGKILL);

  EXPECT_EQ(load.succeeded, kCalls);
  EXPECT_THAT(load.failures, ::testing::IsEmpty())
      << load.failures.size()
      << " calls failed, the first: " << (load.failures.empty() ? "" : load.failures.front());
  absl::StatusOr<int> status = victim.WaitExit(absl::Seconds(10));
  ASSERT_THAT(status, IsOk());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  std::vector<double> after;
  for (int i = 1; i < kReplicas; ++i)
    after.push_back(Executions(replicas.servers[i]->metrics_port()));
  const std::string figures = Figures("sigkill", load, after);
  std::printf("%s\n", figures.c_str());
  for (double executions : after) EXPECT_GE(executions, kCalls / 4) << figures;
}

// A server whose every Execute is a draining server's refusal at the door (a fake at the seam:
// with a real one, the client's health check stops sending to it at once, and only a replica
// whose health the client has not yet seen change meets the door).
class DoorRefusingService final : public v1::Sandbox::CallbackService {
 public:
  grpc::ServerUnaryReactor* Execute(grpc::CallbackServerContext* context, const v1::ExecuteRequest*,
                                    v1::ExecuteResponse*) override {
    ++calls;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(api::ToGrpcStatus(api::DrainingRefusal()));
    return reactor;
  }
  std::atomic<int> calls{0};
};

// A call refused at the door was never accepted: the client sends it again, with a backoff,
// kDrainingRefusalAttempts times before it gives up, and says why.
TEST(DrainingRefusalTest, TheClientSendsARefusedCallAgain) {
  DoorRefusingService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  absl::StatusOr<std::unique_ptr<RemoteClient>> client =
      RemoteClient::Create(ClientOptions{.address = absl::StrCat("127.0.0.1:", port)});
  ASSERT_THAT(client, IsOk());
  absl::StatusOr<v1::ExecuteResponse> refused =
      (*client)->ExecuteById("sha256:00", EchoManifest(1), {});
  EXPECT_TRUE(api::IsDrainingRefusal(refused.status())) << refused.status();
  // Each of those is retried by gRPC's own policy too (maxAttempts 5 in kServiceConfigJson).
  EXPECT_EQ(service.calls.load(), kDrainingRefusalAttempts * 5);
  server->Shutdown();
}

}  // namespace
}  // namespace zerocell::client
