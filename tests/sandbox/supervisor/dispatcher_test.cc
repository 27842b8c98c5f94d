// Dispatcher unit tests through the fake kernel: policy decisions on foreign ABIs, the ID-valid
// race, vanished callers, pending reads, CONTINUE answers.
#include "sandbox/supervisor/dispatcher.h"

#include <linux/audit.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "sandbox/input_source.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/supervisor/guest_state.h"
#include "tests/testing/fake_kernel.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox::supervisor {
namespace {

using ::zerocell::testing::IsOk;

using zerocell::testing::FakeGuestMemory;
using zerocell::testing::FakeNotifier;

constexpr uint64_t kBuf = 0x10000;

Manifest MakeManifest() {
  absl::StatusOr<Manifest> m = ManifestBuilder()
                                   .add_channel(StdinChannel("input"))
                                   .add_channel(StdoutChannel(1 << 20))
                                   .add_channel(StderrChannel(1 << 20))
                                   .Build();
  EXPECT_THAT(m, IsOk());
  return *std::move(m);
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto memory = std::make_unique<FakeGuestMemory>();
    memory_ = memory.get();
    memory_->Map(kBuf, 4096);
    guest_ = std::make_unique<GuestState>(manifest_, std::move(memory), -1);
    ASSERT_THAT(guest_->Open({}), IsOk());
  }

  Manifest manifest_ = MakeManifest();
  FakeGuestMemory* memory_ = nullptr;
  std::unique_ptr<GuestState> guest_;
  FakeNotifier notifier_;
};

TEST_F(DispatcherTest, AnswersAHandledCallWithItsValue) {
  const uint64_t id = notifier_.Push(SYS_getpid);
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  const Answer* a = notifier_.AnswerFor(id);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->value, kGuestPid);
  EXPECT_EQ(a->error, 0);
  EXPECT_FALSE(a->continue_syscall);
  EXPECT_EQ(d.notified(), 1);
}

TEST_F(DispatcherTest, AnswersErrnosAndContinues) {
  const uint64_t bad = notifier_.Push(SYS_read, {99, kBuf, 10});
  const uint64_t mmap = notifier_.Push(
      SYS_mmap, {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  ASSERT_THAT(d.HandleNext(), IsOk());
  ASSERT_NE(notifier_.AnswerFor(bad), nullptr);
  EXPECT_EQ(notifier_.AnswerFor(bad)->error, EBADF);
  ASSERT_NE(notifier_.AnswerFor(mmap), nullptr);
  // mmap takes only registers: once admitted, the kernel runs it as the guest made it.
  EXPECT_TRUE(notifier_.AnswerFor(mmap)->continue_syscall);
}

TEST_F(DispatcherTest, CallWithoutHandlerStopsTheGuestUnanswered) {
  const uint64_t id = notifier_.Push(SYS_socket, {2, 1, 0});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
  EXPECT_EQ(guest_->stop()->violation.syscall, "socket");
  EXPECT_EQ(guest_->stop()->violation.number, SYS_socket);
}

TEST_F(DispatcherTest, ForeignArchitectureIsAViolationEvenForAHandledNumber) {
  // i386's 20 is getpid; x86-64's 20 is writev. Neither may be served for an i386 caller.
  const uint64_t id = notifier_.Push(20, {}, AUDIT_ARCH_I386);
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
}

TEST_F(DispatcherTest, X32NumberIsAViolation) {
  // x32 shares the native audit arch; only the number's 0x40000000 bit tells it apart.
  const uint64_t id = notifier_.Push(0x40000000 | SYS_getpid);
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
}

TEST(HandlerForTest, OutOfRangeNumbersHaveNoHandler) {
  EXPECT_EQ(HandlerFor(AUDIT_ARCH_X86_64, -1), nullptr);
  EXPECT_EQ(HandlerFor(AUDIT_ARCH_X86_64, kMaxSyscall), nullptr);
  EXPECT_EQ(HandlerFor(AUDIT_ARCH_X86_64, int64_t{1} << 40), nullptr);
  EXPECT_NE(HandlerFor(AUDIT_ARCH_X86_64, SYS_write), nullptr);
  EXPECT_EQ(HandlerFor(AUDIT_ARCH_I386, SYS_write), nullptr);
}

TEST_F(DispatcherTest, VanishedCallerIsNotAnError) {
  notifier_.PushVanished();
  Dispatcher d(notifier_, *guest_);
  EXPECT_THAT(d.HandleNext(), IsOk());
  EXPECT_TRUE(notifier_.answers().empty());
  EXPECT_EQ(d.notified(), 0);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(DispatcherTest, KernelErrorOnReceiveIsReturned) {
  Dispatcher d(notifier_, *guest_);
  EXPECT_FALSE(d.HandleNext().ok());  // nothing queued: the fake's stand-in for a kernel error
}

TEST_F(DispatcherTest, NoAnswerWhenTheIdDiedWhileTheHandlerReadMemory) {
  // The guest dies (and its pid may be reused) between the handler's read of its buffer and the
  // answer: what was read may belong to another process, so nothing is answered.
  memory_->Map(kBuf, std::string("hello"));
  const uint64_t id = notifier_.Push(SYS_write, {1, kBuf, 5});
  notifier_.InvalidateAfterChecks(id, 0);
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
  EXPECT_GE(notifier_.id_checks(), 1);
}

TEST_F(DispatcherTest, IdIsCheckedAfterTheHandlerRan) {
  memory_->Map(kBuf, std::string("hello"));
  int checks_during_read = -1;
  memory_->after_read = [&](uint64_t, size_t) { checks_during_read = notifier_.id_checks(); };
  const uint64_t id = notifier_.Push(SYS_write, {1, kBuf, 5});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  ASSERT_NE(notifier_.AnswerFor(id), nullptr);
  EXPECT_EQ(notifier_.AnswerFor(id)->value, 5);
  EXPECT_EQ(checks_during_read, 0);     // no check before the read could mean anything
  EXPECT_EQ(notifier_.id_checks(), 1);  // one after it, before the answer
}

TEST_F(DispatcherTest, StoppedGuestIsNotAnswered) {
  // A PROT_EXEC mmap stops the guest: it must die waiting, not get an errno and go on.
  const uint64_t id = notifier_.Push(
      SYS_mmap, {0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
}

class PendingReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    writer_.reset(fds[1]);
    absl::StatusOr<std::unique_ptr<InputSource>> in = FdInput(sys::UniqueFd(fds[0]), "pipe");
    ASSERT_THAT(in, IsOk());
    input_ = *std::move(in);
    auto memory = std::make_unique<FakeGuestMemory>();
    memory_ = memory.get();
    memory_->Map(kBuf, 64);
    guest_ = std::make_unique<GuestState>(manifest_, std::move(memory), -1);
    InputSource* inputs[] = {input_.get(), nullptr, nullptr};
    ASSERT_THAT(guest_->Open(inputs), IsOk());
  }

  Manifest manifest_ = MakeManifest();
  sys::UniqueFd writer_;
  std::unique_ptr<InputSource> input_;
  FakeGuestMemory* memory_ = nullptr;
  std::unique_ptr<GuestState> guest_;
  FakeNotifier notifier_;
};

TEST_F(PendingReadTest, ReadWaitsForTheSourceThenIsAnswered) {
  const uint64_t id = notifier_.Push(SYS_read, {0, kBuf, 64});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
  ASSERT_EQ(d.pending_count(), 1u);
  ASSERT_GE(d.pending_fd(0), 0);

  ASSERT_EQ(write(writer_.get(), "abc", 3), 3);
  ASSERT_THAT(d.RetryPending(0), IsOk());
  EXPECT_EQ(d.pending_count(), 0u);
  ASSERT_NE(notifier_.AnswerFor(id), nullptr);
  EXPECT_EQ(notifier_.AnswerFor(id)->value, 3);
  EXPECT_EQ(memory_->Bytes(kBuf, 3), "abc");
}

TEST_F(PendingReadTest, EndOfInputAnswersZero) {
  const uint64_t id = notifier_.Push(SYS_read, {0, kBuf, 64});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  writer_.reset();
  ASSERT_THAT(d.RetryPending(0), IsOk());
  ASSERT_NE(notifier_.AnswerFor(id), nullptr);
  EXPECT_EQ(notifier_.AnswerFor(id)->value, 0);
  EXPECT_EQ(notifier_.AnswerFor(id)->error, 0);
}

TEST_F(PendingReadTest, PendingCallOfADeadGuestIsDropped) {
  const uint64_t id = notifier_.Push(SYS_read, {0, kBuf, 64});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  notifier_.Invalidate(id);
  ASSERT_EQ(write(writer_.get(), "abc", 3), 3);
  ASSERT_THAT(d.RetryPending(0), IsOk());
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
  EXPECT_EQ(d.pending_count(), 0u);
  EXPECT_EQ(memory_->writes(), 0);  // the dead guest's memory was not written either
}

// A caller killed while it waited is forgotten without its descriptor becoming ready.
TEST_F(PendingReadTest, GoneCallersAreDroppedWithoutTheirSourceReady) {
  const uint64_t id = notifier_.Push(SYS_read, {0, kBuf, 64});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  d.DropGoneCallers();
  ASSERT_EQ(d.pending_count(), 1u);  // still waiting: kept
  notifier_.Invalidate(id);
  d.DropGoneCallers();
  EXPECT_EQ(d.pending_count(), 0u);
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
}

TEST_F(PendingReadTest, RetryWithoutDataStaysPending) {
  const uint64_t id = notifier_.Push(SYS_read, {0, kBuf, 64});
  Dispatcher d(notifier_, *guest_);
  ASSERT_THAT(d.HandleNext(), IsOk());
  const int fd = d.pending_fd(0);
  ASSERT_THAT(d.RetryPending(0), IsOk());  // a spurious wake-up
  ASSERT_EQ(d.pending_count(), 1u);
  EXPECT_EQ(d.pending_fd(0), fd);
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
}

// Processes: the caller's state is selected by its pid. A real child of this test stands for a
// fork's child (its parent, this process, is the run's first process), so /proc pairs them.
class ProcessSelectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Manifest> m = ManifestBuilder()
                                     .add_channel(StdinChannel(""))
                                     .add_channel(StdoutChannel(1 << 20))
                                     .add_channel(StderrChannel(1 << 20))
                                     .set_max_processes(4)
                                     .Build();
    ASSERT_THAT(m, IsOk());
    manifest_ = std::make_unique<Manifest>(*std::move(m));
    guest_ = std::make_unique<GuestState>(*manifest_, std::make_unique<FakeGuestMemory>(), -1);
    ASSERT_THAT(guest_->Open({}), IsOk());
    guest_->first().pid = getpid();
    notifier_.set_pid(static_cast<uint32_t>(getpid()));
  }
  void TearDown() override {
    if (child_ > 0) {
      kill(child_, SIGKILL);
      waitpid(child_, nullptr, 0);
    }
  }
  pid_t SpawnChild() {
    child_ = fork();
    if (child_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a test that crashed
      pause();
      _exit(0);
    }
    return child_;
  }

  std::unique_ptr<Manifest> manifest_;
  std::unique_ptr<GuestState> guest_;
  FakeNotifier notifier_;
  pid_t child_ = -1;
};

TEST_F(ProcessSelectionTest, AForksChildTakesItsParentsStateAtTheFork) {
  Dispatcher d(notifier_, *guest_);
  notifier_.Push(SYS_dup, {1});  // fd 3: the child's table is a copy of the parent's
  ASSERT_THAT(d.HandleNext(), IsOk());
  notifier_.Push(SYS_fork);
  ASSERT_THAT(d.HandleNext(), IsOk());
  ASSERT_NE(guest_->first().pending, nullptr);
  // The parent closes both after the fork: the child's copy still has them.
  notifier_.Push(SYS_close, {1});
  ASSERT_THAT(d.HandleNext(), IsOk());
  notifier_.Push(SYS_close, {3});
  ASSERT_THAT(d.HandleNext(), IsOk());
  const pid_t child = SpawnChild();
  ASSERT_GT(child, 0);
  notifier_.set_pid(static_cast<uint32_t>(child));
  const uint64_t id = notifier_.Push(SYS_getpid);
  ASSERT_THAT(d.HandleNext(), IsOk());
  ASSERT_FALSE(guest_->stop().has_value()) << guest_->stop()->detail;
  ASSERT_NE(notifier_.AnswerFor(id), nullptr);
  EXPECT_EQ(notifier_.AnswerFor(id)->value, child);
  EXPECT_EQ(guest_->first().pending, nullptr);
  ASSERT_EQ(guest_->processes().size(), 2u);
  EXPECT_EQ(&guest_->current(), guest_->processes()[1].get());
  EXPECT_TRUE(guest_->fds().IsOpen(1));
  EXPECT_TRUE(guest_->fds().IsOpen(3));
  EXPECT_FALSE(guest_->first().fds.IsOpen(1));
  EXPECT_FALSE(guest_->first().fds.IsOpen(3));
}

TEST_F(ProcessSelectionTest, AChildOfAProcessWithNoForkPendingIsAViolation) {
  Dispatcher d(notifier_, *guest_);
  const pid_t child = SpawnChild();  // this process's child, but no fork of the run made it
  ASSERT_GT(child, 0);
  notifier_.Push(SYS_getpid);  // the first process's own call: it has no fork pending
  ASSERT_THAT(d.HandleNext(), IsOk());
  notifier_.set_pid(static_cast<uint32_t>(child));
  const uint64_t id = notifier_.Push(SYS_getpid);
  ASSERT_THAT(d.HandleNext(), IsOk());
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
}

TEST_F(ProcessSelectionTest, ACallerNoForkMadeIsAViolation) {
  Dispatcher d(notifier_, *guest_);
  notifier_.Push(SYS_fork);
  ASSERT_THAT(d.HandleNext(), IsOk());
  // Not this process's child: init's (pid 1) parent is 0, no process of the run.
  notifier_.set_pid(1);
  const uint64_t id = notifier_.Push(SYS_getpid);
  ASSERT_THAT(d.HandleNext(), IsOk());
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
  EXPECT_EQ(notifier_.AnswerFor(id), nullptr);
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor
