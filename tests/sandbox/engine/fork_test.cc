// Real runs of several processes: fork and wait, output of children, descriptor tables, the
// process limit, memory summed over the processes, and every process ending with the run
// however it ends.
#include <dirent.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/fs/file_tree.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/output_observer.h"
#include "sandbox/supervisor/process_table.h"
#include "sandbox/sys/process.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/processes.h"

namespace zerocell::sandbox::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::zerocell::testing::DescendantPids;
using ::zerocell::testing::IsOk;
using ::zerocell::testing::WaitFor;

std::string E(int err) { return "E" + std::to_string(err); }

ManifestBuilder Probe(std::vector<std::string> args, int64_t processes) {
  args.insert(args.begin(), "fork_probe");
  ManifestBuilder m = StdManifest(std::move(args));
  m.set_max_processes(processes);
  return m;
}

// Whether host pid `pid` names no process, zombie or not (the run reaped what it killed).
bool Gone(const std::string& pid_text) {
  int pid = 0;
  if (!absl::SimpleAtoi(pid_text, &pid) || pid <= 1) return false;
  return access(absl::StrCat("/proc/", pid).c_str(), F_OK) != 0;
}

TEST(EngineForkTest, WaitReturnsTheChildAndItsExitStatus) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"wait"}, 2)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv.at("waited_same"), "1");
  EXPECT_EQ(kv.at("status"), "7");
  EXPECT_EQ(kv.at("wait_again"), E(ECHILD));
  // The child's pid is the host's, as fork returned it to the parent; the parent keeps the
  // fixed identity, which is the child's parent.
  EXPECT_EQ(kv.at("child_getpid"), kv.at("forked"));
  EXPECT_EQ(kv.at("child_getppid"), std::to_string(launch::kGuestPid));
  EXPECT_EQ(kv.at("parent_getpid"), std::to_string(launch::kGuestPid));
  EXPECT_EQ(r.usage.peak_processes, 2);
  EXPECT_FALSE(r.process_limit_exceeded);
  EXPECT_TRUE(ReportsNondeterminism(r, "processes")) << Describe(r);
}

TEST(EngineForkTest, ChildrenWriteToStdoutInOrder) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"order"}, 2)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "child 0\nchild 1\nchild 2\nparent\n");
}

TEST(EngineForkTest, TheDescriptorTableIsCopiedAndDescriptionsShared) {
  fs::FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("data/f.txt", 0644, "0123456789"), IsOk());
  auto tree = std::move(b).Build();
  ASSERT_THAT(tree.status(), IsOk());
  RunOptions o;
  o.trees = {*tree};
  ManifestBuilder m = Probe({"fds", "/data/f.txt"}, 2);
  m.add_mount({"/", "tree"});
  ZC_ASSERT_RUN(r, RunGuestWith("fork_probe", m, o));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv.at("child_close"), "0");
  EXPECT_EQ(kv.at("child_write_closed"), E(EBADF));
  EXPECT_EQ(kv.at("parent_write"), "5");  // the parent's copy of the table still has it
  EXPECT_THAT(StdoutOf(r), HasSubstr("kept\n"));
  EXPECT_EQ(kv.at("child_read"), "4");
  EXPECT_EQ(kv.at("parent_offset"), "4");  // one open file description, one offset
}

TEST(EngineForkTest, OneProcessByDefaultAForkAnswersEagain) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", StdManifest({"fork_probe", "limit"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv.at("fork_error"), E(EAGAIN));
  EXPECT_EQ(kv.at("made"), "0");
  EXPECT_TRUE(r.process_limit_exceeded);
  EXPECT_EQ(r.usage.peak_processes, 1);
  EXPECT_FALSE(ReportsNondeterminism(r, "processes"));  // no fork happened
}

// Also a fork bomb: bounded by the limit, and every child ends with the run.
TEST(EngineForkTest, ForksPastTheLimitAnswerEagain) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"limit"}, 5)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv.at("fork_error"), E(EAGAIN));
  EXPECT_EQ(kv.at("made"), "4");
  EXPECT_TRUE(r.process_limit_exceeded);
  EXPECT_EQ(r.usage.peak_processes, 5);
  EXPECT_FALSE(HasChildProcess());
}

// Zombies hold their pid until reaped, as the kernel counts them at RLIMIT_NPROC: children that
// exit at once and are never waited for fill the limit instead of piling up in the host.
TEST(EngineForkTest, ZombiesCountUntilReaped) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"zombies", "2000"}, 2)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv.at("made"), "1");
  EXPECT_EQ(kv.at("fork_error"), E(EAGAIN));
  EXPECT_TRUE(r.process_limit_exceeded);
  EXPECT_FALSE(HasChildProcess());
}

// The engine's descriptors open when the guest writes (the observer runs on the supervisor's
// thread, in the run).
class FdCounter : public OutputObserver {
 public:
  void OnWrite(int, uint64_t, std::string_view) override {
    int n = 0;
    if (DIR* d = opendir("/proc/self/fd"); d != nullptr) {
      while (readdir(d) != nullptr) ++n;
      closedir(d);
    }
    counts.push_back(n);
  }
  std::vector<int> counts;
};

// A reaped process is released (its pidfd and /proc files closed): however many processes a
// run makes one after the other, the engine holds descriptors for at most max_processes.
TEST(EngineForkTest, ReapedProcessesAreReleased) {
  FdCounter counter;
  RunOptions o;
  o.observer = &counter;
  ManifestBuilder m = Probe({"forkwait", "2000"}, 2);
  m.set_timeout(absl::Seconds(60));
  ZC_ASSERT_RUN(r, RunGuestWith("fork_probe", m, o));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(KeyValues(StdoutOf(r)).at("made"), "2000");
  ASSERT_EQ(counter.counts.size(), 2u) << Describe(r);
  EXPECT_LE(counter.counts[1], counter.counts[0] + 16)
      << "descriptors at the start " << counter.counts[0] << ", after 2000 processes "
      << counter.counts[1];
}

// Runs fork_probe `mode` (a child that outlives its parent's wait) until `timeout`: the run
// ends TIMEOUT and the child with it.
void ExpectTheChildEndsAtTheTimeout(const char* mode, absl::Duration timeout) {
  ManifestBuilder m = Probe({mode}, 2);
  m.set_timeout(timeout);
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", m));
  ASSERT_EQ(r.outcome, Outcome::kTimeout) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  ASSERT_TRUE(kv.contains("child")) << Describe(r);
  EXPECT_TRUE(Gone(kv.at("child"))) << "child " << kv.at("child") << " outlived the run";
  EXPECT_FALSE(HasChildProcess());
}

TEST(EngineForkTest, AChildSpinningIsKilledAtTheTimeout) {
  ExpectTheChildEndsAtTheTimeout("spin", absl::Milliseconds(500));
}

// A sleeping child is bounded by no CPU limit: only the end of the run ends it.
TEST(EngineForkTest, ASleepingChildIsKilledAtTheTimeout) {
  ExpectTheChildEndsAtTheTimeout("sleepwait", absl::Milliseconds(300));
}

// The child spins while its parent waits: the run's CPU is both processes', so the CPU limit
// ends the run (the child's own RLIMIT_CPU backstop alone would let the parent exit).
TEST(EngineForkTest, AChildsCpuCountsAgainstTheRunsLimit) {
  ManifestBuilder m = Probe({"spin"}, 2);
  m.set_timeout(absl::Seconds(10)).set_cpu_limit(absl::Milliseconds(300));
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", m));
  ASSERT_EQ(r.outcome, Outcome::kCpuLimit) << Describe(r);
  // The killed child's CPU is in the run's usage.
  EXPECT_GE(r.usage.user_cpu + r.usage.system_cpu, absl::Milliseconds(250)) << Describe(r);
}

// A child that made no notified call is the run's too: it spins while its parent waits in the
// kernel's wait4, and the CPU limit ends the run (not the child's own RLIMIT_CPU, which
// would let the parent exit).
TEST(EngineForkTest, AnUnpairedChildsCpuCountsAgainstTheRunsLimit) {
  ManifestBuilder m = Probe({"rawspin"}, 2);
  m.set_timeout(absl::Seconds(30)).set_cpu_limit(absl::Milliseconds(300));
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", m));
  ASSERT_EQ(r.outcome, Outcome::kCpuLimit) << Describe(r);
  EXPECT_THAT(StdoutOf(r), Not(HasSubstr("child_status")));
  EXPECT_FALSE(HasChildProcess());
}

// Children that ended but were never reaped keep their CPU in the run's: 40 of them each spin
// 2^28 iterations (far more than 300 ms together on any machine), one after the other.
TEST(EngineForkTest, EndedUnreapedChildrensCpuCounts) {
  ManifestBuilder m = Probe({"burners", "40"}, 41);
  m.set_timeout(absl::Seconds(120)).set_cpu_limit(absl::Milliseconds(300));
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", m));
  ASSERT_EQ(r.outcome, Outcome::kCpuLimit) << Describe(r);
  EXPECT_THAT(StdoutOf(r), Not(HasSubstr("done")));
  EXPECT_FALSE(HasChildProcess());
}

TEST(EngineForkTest, AChildNeverWaitedForEndsWithTheRunNoZombie) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"nowait"}, 2)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  const auto kv = KeyValues(StdoutOf(r));
  ASSERT_TRUE(kv.contains("child")) << Describe(r);
  EXPECT_TRUE(Gone(kv.at("child"))) << "child " << kv.at("child") << " outlived the run";
  EXPECT_FALSE(HasChildProcess());
}

// Under a 64 MiB limit (stack 8 MiB): the parent maps 12 MiB and forks (its copy fits beside
// it); the child's 24 MiB more fit in its own address space but not beside its parent's.
TEST(EngineForkTest, MemoryIsSummedOverTheProcesses) {
  ManifestBuilder m = Probe({"mem", "12", "24"}, 2);
  m.set_memory_bytes(int64_t{64} << 20);
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", m));
  EXPECT_EQ(r.outcome, Outcome::kMemoryLimit) << Describe(r);
  // The fork itself fit: the child's mapping crossed the limit (the run may end before the
  // parent prints anything).
  EXPECT_THAT(r.detail, HasSubstr("exceeded: mmap")) << Describe(r);
  EXPECT_THAT(StdoutOf(r), Not(HasSubstr("child_mapped=1")));

  ManifestBuilder small = Probe({"mem", "12", "4"}, 2);
  small.set_memory_bytes(int64_t{64} << 20);
  ZC_ASSERT_RUN(ok, RunGuest("fork_probe", small));
  ASSERT_EQ(ok.outcome, Outcome::kExited) << Describe(ok);
  EXPECT_EQ(KeyValues(StdoutOf(ok)).at("child_status"), "0");

  // A raw fork whose child makes no notified call stays pending: its copy still counts when
  // the parent maps more.
  ManifestBuilder raw = Probe({"rawmem", "12", "24"}, 2);
  raw.set_memory_bytes(int64_t{64} << 20);
  ZC_ASSERT_RUN(rr, RunGuest("fork_probe", raw));
  EXPECT_EQ(rr.outcome, Outcome::kMemoryLimit) << Describe(rr);
  EXPECT_THAT(StdoutOf(rr), Not(HasSubstr("parent_mapped=1")));

  ManifestBuilder raw_small = Probe({"rawmem", "12", "4"}, 2);
  raw_small.set_memory_bytes(int64_t{64} << 20);
  ZC_ASSERT_RUN(rok, RunGuest("fork_probe", raw_small));
  ASSERT_EQ(rok.outcome, Outcome::kExited) << Describe(rok);
  EXPECT_EQ(KeyValues(StdoutOf(rok)).at("child_status"), "0");
}

// The run's peak is its largest process's, whichever process the supervisor served last.
TEST(EngineForkTest, PeakMemoryIsTheLargestProcesss) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"mem", "1", "40"}, 2)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_GE(r.usage.peak_memory_bytes, int64_t{40} << 20);
  ZC_ASSERT_RUN(parent_only, RunGuest("fork_probe", Probe({"mem", "1", "0"}, 2)));
  ASSERT_EQ(parent_only.outcome, Outcome::kExited) << Describe(parent_only);
  EXPECT_LT(parent_only.usage.peak_memory_bytes, int64_t{40} << 20);
}

// A fork copies the whole address space: it is admitted like a mapping of that size.
TEST(EngineForkTest, AForkPastTheMemoryLimitIsMemoryLimit) {
  ManifestBuilder m = Probe({"mem", "30", "0"}, 2);
  m.set_memory_bytes(int64_t{64} << 20);
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", m));
  EXPECT_EQ(r.outcome, Outcome::kMemoryLimit) << Describe(r);
  EXPECT_THAT(r.detail, HasSubstr("fork"));
}

// A parent that exits before its child made a notified call: its exit pairs the fork, so two
// such orphans at once are still told apart (the child is re-parented before it calls).
TEST(EngineForkTest, ForksOfParentsThatExitedAtOnceArePaired) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"orphans"}, 5)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "grandchild\ngrandchild\ndone=2\n");
}

// A vfork child shares its parent's memory (and its accounting) until it exits.
TEST(EngineForkTest, VforkChildRunsAndIsWaitedFor) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"vfork"}, 2)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv.at("vforked"), "1");
  EXPECT_EQ(kv.at("child_status"), "5");
}

// MADV_WIPEONFORK is the kernel's to honour: a child must not run with, say, its parent's
// random state.
TEST(EngineForkTest, WipeOnForkGivesTheChildZeros) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"wipe"}, 2)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv.at("madvise"), "0");
  EXPECT_EQ(kv.at("child_byte"), "0");
  EXPECT_EQ(kv.at("parent_byte"), std::to_string('x'));
}

// A supervision that returns an error (no Finish) still ends the run's other processes: its
// guard kills the first process's group before reaping it, then reaps the ones left to us.
TEST(EngineForkTest, EveryProcessEndsWhenSupervisionReturnsEarly) {
  ASSERT_THAT(supervisor::BecomeSubreaper(), IsOk());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t first = fork();
  ASSERT_GE(first, 0);
  if (first == 0) {
    // A sandbox's shape: a group leader with a child of its own.
    setpgid(0, 0);
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      pause();
      _exit(0);
    }
    (void)!write(ready[1], &grandchild, sizeof grandchild);
    pause();
    _exit(0);
  }
  setpgid(first, first);  // either side may run first
  close(ready[1]);
  pid_t grandchild = 0;
  ASSERT_EQ(read(ready[0], &grandchild, sizeof grandchild), ssize_t{sizeof grandchild});
  close(ready[0]);
  {
    sys::Process process(first, sys::UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, first, 0))));
    supervisor::RunGroup group(process, /*several=*/true);
  }
  EXPECT_TRUE(Gone(std::to_string(grandchild))) << "grandchild " << grandchild << " outlived";
  EXPECT_FALSE(HasChildProcess());
}

// However the run ends, a child asleep in the kernel (no notified call to stop it at) ends with
// it and is reaped.
void ExpectTheSleepingChildEndedWith(const Result& r) {
  const auto kv = KeyValues(StdoutOf(r));
  ASSERT_TRUE(kv.contains("child")) << Describe(r);
  EXPECT_TRUE(Gone(kv.at("child"))) << "child " << kv.at("child") << " outlived the run";
  EXPECT_FALSE(HasChildProcess());
}

TEST(EngineForkTest, AViolationEndsEveryProcess) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"sleeper", "clone"}, 2)));
  ASSERT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
  ExpectTheSleepingChildEndedWith(r);
}

TEST(EngineForkTest, TheMemoryLimitEndsEveryProcess) {
  ManifestBuilder m = Probe({"sleeper", "map", "200"}, 2);
  m.set_memory_bytes(int64_t{64} << 20);
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", m));
  ASSERT_EQ(r.outcome, Outcome::kMemoryLimit) << Describe(r);
  ExpectTheSleepingChildEndedWith(r);
}

// Cancelled, the run has no result to name the child: it is found under this process while
// the parent spins.
TEST(EngineForkTest, CancellationEndsEveryProcess) {
  ManifestBuilder m = Probe({"sleeper", "spin"}, 2);
  m.set_timeout(absl::Seconds(30));
  CancelToken cancel;
  std::vector<pid_t> seen;
  std::thread canceller([&] {
    // The sandbox and its child (the engine's other children, if any, are not this run's).
    WaitFor([&] { return (seen = DescendantPids(getpid())).size() >= 2; }, absl::Seconds(20));
    cancel.Cancel();
  });
  absl::StatusOr<Result> r = RunGuest("fork_probe", m, &cancel);
  canceller.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled)
      << (r.ok() ? Describe(*r) : r.status().ToString());
  ASSERT_GE(seen.size(), 2u);
  for (pid_t pid : seen) EXPECT_TRUE(Gone(std::to_string(pid))) << pid << " outlived the run";
  EXPECT_FALSE(HasChildProcess());
}

TEST(EngineForkTest, ThreadsStayAViolation) {
  ZC_ASSERT_RUN(r, RunGuest("fork_probe", Probe({"clone"}, 4)));
  ASSERT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
  EXPECT_EQ(r.violation.syscall, "clone");
  EXPECT_EQ(StdoutOf(r), "start\n");
}

}  // namespace
}  // namespace zerocell::sandbox::testing
