// BuildParkSpec/BuildGoPlan unit tests: the park spec, segments, and the SysV initial stack.
#include "sandbox/launch/spec_builder.h"

#include <elf.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/elf/elf_image.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/manifest/manifest.h"
#include "tests/sandbox/elf/elf_builder.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;
using ::zerocell::testing::StatusIs;

namespace zerocell::sandbox::launch {
namespace {

using ::testing::HasSubstr;

constexpr pid_t kParent = 4321;

Manifest MakeManifest(std::vector<std::string> argv, std::vector<std::string> env,
                      int64_t memory = int64_t{64} << 20, uint64_t seed = 0) {
  absl::StatusOr<Manifest> m = ManifestBuilder()
                                   .add_channel(StdinChannel(""))
                                   .add_channel(StdoutChannel(100))
                                   .add_channel(StderrChannel(100))
                                   .set_argv(std::move(argv))
                                   .set_env(std::move(env))
                                   .set_memory_bytes(memory)
                                   .set_cpu_limit(absl::Milliseconds(2500))
                                   .set_random_seed(seed)
                                   .Build();
  EXPECT_THAT(m, IsOk());
  return *std::move(m);
}

elf::ElfLayout ParsedLayout(bool pie) {
  elf::testing::ElfBuilder b;
  if (pie) b.MakePie();
  absl::StatusOr<elf::ElfLayout> layout = elf::ParseElf(b.Build());
  EXPECT_THAT(layout, IsOk());
  return *layout;
}

// A crafted two-segment layout: text R+X, data R+W with bss.
elf::ElfLayout CraftedLayout() {
  elf::ElfLayout l;
  l.pie = false;
  l.entry = 0x401234;
  l.phdr_vaddr = 0x400040;
  l.phnum = 4;
  l.phentsize = sizeof(Elf64_Phdr);
  l.segments.push_back({0x400000, 0x3000, 0, 0x3000, true, false, true});
  l.segments.push_back({0x404100, 0x2000, 0x3100, 0x800, true, true, false});
  return l;
}

// Both halves of a launch: the park spec (per image) and the go plan (per request).
struct Built {
  std::string park;
  GoPlan go;
  uint64_t stack_bytes = 0;
  uint64_t image_bytes = 0;
};

absl::StatusOr<Built> BuildLaunchSpec(const elf::ElfLayout& layout, const Manifest& m,
                                      const std::string& filter, pid_t parent) {
  absl::StatusOr<std::string> park =
      BuildParkSpec(layout, PlanCleanPages(layout, elf::testing::kFileSize), filter, parent);
  if (!park.ok()) return park.status();
  absl::StatusOr<GoPlan> go = BuildGoPlan(layout, m);
  if (!go.ok()) return go.status();
  Built b{*std::move(park), *std::move(go)};
  b.stack_bytes = b.go.stack_bytes;
  b.image_bytes = b.go.image_bytes;
  return b;
}

// The park spec and the request's stack image, readable by guest address.
class ParsedSpec {
 public:
  explicit ParsedSpec(const Built& built) : go(built.go) {
    EXPECT_GE(built.park.size(), sizeof(LaunchSpec));
    memcpy(&spec, built.park.data(), sizeof(spec));
    stack_ = go.stack_image;
    base_ = kStackTop - stack_.size();
  }

  bool InStack(uint64_t addr, uint64_t len) const {
    return addr >= base_ && addr <= kStackTop && len <= kStackTop - addr;
  }
  uint64_t Word(uint64_t addr) const {
    EXPECT_TRUE(InStack(addr, 8)) << std::hex << addr;
    if (!InStack(addr, 8)) return 0;
    uint64_t v;
    memcpy(&v, stack_.data() + (addr - base_), 8);
    return v;
  }
  std::string Bytes(uint64_t addr, uint64_t len) const {
    EXPECT_TRUE(InStack(addr, len)) << std::hex << addr;
    if (!InStack(addr, len)) return "";
    return stack_.substr(addr - base_, len);
  }
  std::string String(uint64_t addr) const {
    EXPECT_TRUE(InStack(addr, 1)) << std::hex << addr;
    if (!InStack(addr, 1)) return "";
    const size_t start = addr - base_;
    const size_t end = stack_.find('\0', start);
    EXPECT_NE(end, std::string::npos) << "string at " << std::hex << addr << " not terminated";
    return stack_.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }

  // Walks argc/argv/envp/auxv from initial_sp.
  void Walk() {
    uint64_t p = go.header.initial_sp;
    const uint64_t argc = Word(p);
    p += 8;
    for (uint64_t i = 0; i < argc; ++i, p += 8) argv.push_back(String(Word(p)));
    EXPECT_EQ(Word(p), 0u) << "argv not NULL-terminated";
    p += 8;
    for (uint64_t w; (w = Word(p)) != 0; p += 8) env.push_back(String(w));
    p += 8;
    for (;;) {
      if (!InStack(p, 16)) {
        ADD_FAILURE() << "auxv runs off the stack";
        return;
      }
      const uint64_t type = Word(p), value = Word(p + 8);
      p += 16;
      auxv_order.push_back(type);
      if (type == AT_NULL) break;
      auxv[type] = value;
    }
  }

  LaunchSpec spec;
  GoPlan go;
  std::vector<std::string> argv, env;
  std::map<uint64_t, uint64_t> auxv;
  std::vector<uint64_t> auxv_order;

 private:
  std::string stack_;
  uint64_t base_ = 0;
};

TEST(StackBytesForTest, EighthOfMemoryClamped) {
  EXPECT_EQ(StackBytesFor(1 << 20), kMinStackBytes);
  EXPECT_EQ(StackBytesFor(16 << 20), uint64_t{2} << 20);
  EXPECT_EQ(StackBytesFor(int64_t{256} << 20), kMaxStackBytes);
  EXPECT_EQ(StackBytesFor(int64_t{64} << 30), kMaxStackBytes);
  EXPECT_EQ(StackBytesFor(int64_t{3} << 20) % kPageSize, 0u);
}

TEST(SpecBuilderTest, HeaderAndSegmentsForExec) {
  const elf::ElfLayout layout = ParsedLayout(/*pie=*/false);
  const Manifest m = MakeManifest({"prog"}, {});
  absl::StatusOr<Built> built = BuildLaunchSpec(layout, m, "", kParent);
  ASSERT_THAT(built, IsOk());
  ParsedSpec p(*built);
  EXPECT_EQ(p.spec.magic, kSpecMagic);
  ASSERT_EQ(p.spec.segment_count, 1u);
  EXPECT_EQ(p.spec.segments[0].addr, elf::testing::kBase);
  EXPECT_EQ(p.spec.segments[0].memsz, elf::testing::kFileSize);
  EXPECT_EQ(p.spec.segments[0].offset, 0u);
  EXPECT_EQ(p.spec.segments[0].filesz, elf::testing::kFileSize);
  EXPECT_EQ(p.spec.segments[0].prot, static_cast<uint32_t>(PROT_READ | PROT_EXEC));
  EXPECT_EQ(p.spec.entry, elf::testing::kEntry);
  EXPECT_EQ(p.spec.parent_pid, static_cast<uint32_t>(kParent));
  EXPECT_EQ(built->stack_bytes, StackBytesFor(m.memory_bytes()));
  EXPECT_EQ(p.go.header.stack_low, kStackTop - StackBytesFor(m.memory_bytes()));
  EXPECT_EQ(p.go.header.magic, kGoMagic);
  EXPECT_EQ(built->image_bytes, elf::testing::kFileSize);
}

// The host probe's decisions reach the loader as flags; without them the loader neither changes
// uid nor switches CPUID faulting on.
TEST(SpecBuilderTest, ProbeDecisionsBecomeSpecFlags) {
  const elf::ElfLayout layout = ParsedLayout(/*pie=*/false);
  for (uint32_t flags :
       {0u, kSpecDropPrivileges, kSpecFaultCpuid, kSpecDropPrivileges | kSpecFaultCpuid}) {
    absl::StatusOr<std::string> park = BuildParkSpec(
        layout, PlanCleanPages(layout, elf::testing::kFileSize), "", kParent, {}, flags);
    ASSERT_THAT(park, IsOk());
    LaunchSpec spec;
    ASSERT_GE(park->size(), sizeof(spec));
    memcpy(&spec, park->data(), sizeof(spec));
    EXPECT_EQ(spec.flags, flags);
    EXPECT_EQ(spec.drop_to_uid, kUnprivilegedId);
  }
}

// Executable segments' pages shared with other file bytes get cleaned copies after the file, one
// page each in segment order; nothing else does.
TEST(CleanPagesTest, OnlyPartialPagesOfExecutableSegments) {
  elf::ElfLayout l;
  l.segments.push_back({0x401000, 0x1800, 0x1000, 0x1800, true, false, true});  // ragged end
  l.segments.push_back({0x404100, 0x100, 0x3100, 0x100, true, false, true});    // one page
  l.segments.push_back({0x406100, 0x2000, 0x5100, 0x2000, true, false, true});  // both ends
  l.segments.push_back({0x409100, 0x200, 0x8100, 0x100, true, true, false});    // data
  l.segments.push_back({0x40a000, 0x1000, 0x9000, 0x1000, true, false, true});  // whole pages
  const std::vector<CleanPages> plan = PlanCleanPages(l, 0xa123);
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(plan[0].head, 0u);
  EXPECT_EQ(plan[0].tail, 0xb000u);
  EXPECT_EQ(plan[1].head, 0xc000u);
  EXPECT_EQ(plan[1].tail, 0u);
  EXPECT_EQ(plan[2].head, 0xd000u);
  EXPECT_EQ(plan[2].tail, 0xe000u);
  for (int i : {3, 4}) {
    EXPECT_EQ(plan[i].head, 0u) << i;
    EXPECT_EQ(plan[i].tail, 0u) << i;
  }
  // A cleaned page: the segment's bytes where they are, zeros around them.
  std::string file(0xa123, 'x');
  const std::string head = CleanPage(file, l.segments[1], 0x3000);
  EXPECT_EQ(head, std::string(0x100, '\0') + std::string(0x100, 'x') + std::string(0xe00, '\0'));
  const std::string tail = CleanPage(file, l.segments[0], 0x2000);
  EXPECT_EQ(tail, std::string(0x800, 'x') + std::string(0x800, '\0'));
}

TEST(SpecBuilderTest, CleanPagesReachTheSpec) {
  elf::ElfLayout l = ParsedLayout(/*pie=*/false);
  std::vector<CleanPages> clean(l.segments.size());
  clean[0] = {0x5000, 0x6000};
  absl::StatusOr<std::string> park = BuildParkSpec(l, clean, "", kParent);
  ASSERT_THAT(park, IsOk());
  LaunchSpec spec;
  memcpy(&spec, park->data(), sizeof(spec));
  EXPECT_EQ(spec.segments[0].clean_head, 0x5000u);
  EXPECT_EQ(spec.segments[0].clean_tail, 0x6000u);
  EXPECT_EQ(spec.segments[1].clean_head, 0u);
  clean.pop_back();
  EXPECT_FALSE(BuildParkSpec(l, clean, "", kParent).ok()) << "a plan for another layout";
}

TEST(SpecBuilderTest, PieSegmentsAreBiasedByPieBase) {
  const elf::ElfLayout layout = ParsedLayout(/*pie=*/true);
  ASSERT_TRUE(layout.pie);
  const Manifest m = MakeManifest({"prog"}, {});
  absl::StatusOr<Built> built = BuildLaunchSpec(layout, m, "", kParent);
  ASSERT_THAT(built, IsOk());
  ParsedSpec p(*built);
  ASSERT_EQ(p.spec.segment_count, layout.segments.size());
  for (size_t i = 0; i < layout.segments.size(); ++i) {
    EXPECT_EQ(p.spec.segments[i].addr, kPieBase + layout.segments[i].vaddr) << i;
  }
  EXPECT_EQ(p.spec.entry, kPieBase + layout.entry);
  p.Walk();
  EXPECT_EQ(p.auxv[AT_PHDR], kPieBase + layout.phdr_vaddr);
  EXPECT_EQ(p.auxv[AT_ENTRY], kPieBase + layout.entry);
}

TEST(SpecBuilderTest, InterpreterSegmentsFollowAndItsEntryStarts) {
  elf::ElfLayout program = ParsedLayout(/*pie=*/true);
  program.interpreter = "/lib/ld.so";
  const elf::ElfLayout interp = ParsedLayout(/*pie=*/true);
  const std::vector<CleanPages> clean = PlanCleanPages(program, elf::testing::kFileSize);
  const std::vector<CleanPages> interp_clean = PlanCleanPages(interp, elf::testing::kFileSize);
  absl::StatusOr<std::string> park =
      BuildParkSpec(program, clean, "", kParent, {}, 0, {&interp, &interp_clean});
  ASSERT_THAT(park, IsOk());
  absl::StatusOr<GoPlan> go = BuildGoPlan(program, MakeManifest({"prog"}, {}), &interp);
  ASSERT_THAT(go, IsOk());
  ParsedSpec p(Built{*park, *go});
  const size_t n = program.segments.size();
  ASSERT_EQ(p.spec.segment_count, n + interp.segments.size());
  for (size_t i = 0; i < interp.segments.size(); ++i) {
    EXPECT_EQ(p.spec.segments[i].source, kSegmentFromImage) << i;
    EXPECT_EQ(p.spec.segments[n + i].source, kSegmentFromInterpreter) << i;
    EXPECT_EQ(p.spec.segments[n + i].addr, kInterpBase + interp.segments[i].vaddr) << i;
  }
  // The interpreter runs first; the program's own entry and headers reach it through the auxv.
  EXPECT_EQ(p.spec.entry, kInterpBase + interp.entry);
  p.Walk();
  EXPECT_EQ(p.auxv[AT_BASE], kInterpBase);
  EXPECT_EQ(p.auxv[AT_ENTRY], kPieBase + program.entry);
  EXPECT_EQ(p.auxv[AT_PHDR], kPieBase + program.phdr_vaddr);
  absl::StatusOr<GoPlan> alone = BuildGoPlan(program, MakeManifest({"prog"}, {}));
  ASSERT_THAT(alone, IsOk());
  EXPECT_GT(go->image_bytes, alone->image_bytes) << "the interpreter's pages count too";
}

TEST(SpecBuilderTest, DynamicProgramNeedsASelfContainedPieInterpreter) {
  elf::ElfLayout program = ParsedLayout(/*pie=*/true);
  program.interpreter = "/lib/ld.so";
  const std::vector<CleanPages> clean = PlanCleanPages(program, elf::testing::kFileSize);
  EXPECT_THAT(BuildParkSpec(program, clean, "", kParent),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no interpreter given")));
  const elf::ElfLayout fixed = ParsedLayout(/*pie=*/false);
  const std::vector<CleanPages> fixed_clean = PlanCleanPages(fixed, elf::testing::kFileSize);
  EXPECT_THAT(BuildParkSpec(program, clean, "", kParent, {}, 0, {&fixed, &fixed_clean}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("position-independent")));
  elf::ElfLayout chained = ParsedLayout(/*pie=*/true);
  chained.interpreter = "/lib/other.so";
  EXPECT_THAT(CheckInterpreter(chained), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SpecBuilderTest, CraftedSegmentsKeepFieldsAndProtections) {
  const elf::ElfLayout layout = CraftedLayout();
  absl::StatusOr<Built> built = BuildLaunchSpec(layout, MakeManifest({"p"}, {}), "", kParent);
  ASSERT_THAT(built, IsOk());
  ParsedSpec p(*built);
  ASSERT_EQ(p.spec.segment_count, 2u);
  const SpecSegment& data = p.spec.segments[1];
  EXPECT_EQ(data.addr, 0x404100u);
  EXPECT_EQ(data.memsz, 0x2000u);
  EXPECT_EQ(data.offset, 0x3100u);
  EXPECT_EQ(data.filesz, 0x800u);
  EXPECT_EQ(data.prot, static_cast<uint32_t>(PROT_READ | PROT_WRITE));
  EXPECT_EQ(p.spec.segments[0].prot, static_cast<uint32_t>(PROT_READ | PROT_EXEC));
  EXPECT_EQ(p.spec.entry, 0x401234u);
  // Page-rounded: [0x400000, 0x403000) + [0x404000, 0x407000).
  EXPECT_EQ(built->image_bytes, 0x6000u);
}

TEST(SpecBuilderTest, InitialStackFollowsSysvAbi) {
  const elf::ElfLayout layout = ParsedLayout(/*pie=*/false);
  const std::vector<std::string> argv = {"prog", "", "second arg", std::string(300, 'x')};
  const std::vector<std::string> env = {"A=1", "PATH=/bin", "EMPTY="};
  const Manifest m = MakeManifest(argv, env, int64_t{64} << 20, /*seed=*/1234);
  absl::StatusOr<Built> built = BuildLaunchSpec(layout, m, "", kParent);
  ASSERT_THAT(built, IsOk());
  ParsedSpec p(*built);
  EXPECT_EQ(p.go.header.initial_sp % 16, 0u);
  EXPECT_EQ(p.go.header.initial_sp, kStackTop - p.go.stack_image.size());
  EXPECT_GE(p.go.header.initial_sp, p.go.header.stack_low);
  EXPECT_LT(p.go.header.initial_sp, kStackTop);
  p.Walk();
  EXPECT_EQ(p.argv, argv);
  EXPECT_EQ(p.env, env);
  ASSERT_FALSE(p.auxv_order.empty());
  EXPECT_EQ(p.auxv_order.back(), static_cast<uint64_t>(AT_NULL));
  EXPECT_EQ(p.auxv[AT_PHDR], layout.phdr_vaddr);
  EXPECT_EQ(p.auxv[AT_PHDR], elf::testing::kBase + sizeof(Elf64_Ehdr));
  EXPECT_EQ(p.auxv[AT_PHNUM], layout.phnum);
  EXPECT_EQ(p.auxv[AT_PHENT], sizeof(Elf64_Phdr));
  EXPECT_EQ(p.auxv[AT_PAGESZ], kPageSize);
  EXPECT_EQ(p.auxv[AT_ENTRY], p.spec.entry);
  EXPECT_EQ(p.auxv[AT_UID], 1000u);
  EXPECT_EQ(p.auxv[AT_EGID], 1000u);
  EXPECT_EQ(p.auxv[AT_SECURE], 0u);
  ASSERT_TRUE(p.auxv.count(AT_RANDOM));
  EXPECT_EQ(p.Bytes(p.auxv[AT_RANDOM], 16), base::SeededBytes(1234, "zerocell-at-random", 0, 16));
  ASSERT_TRUE(p.auxv.count(AT_PLATFORM));
  EXPECT_EQ(p.String(p.auxv[AT_PLATFORM]), "x86_64");
  ASSERT_TRUE(p.auxv.count(AT_EXECFN));
  EXPECT_FALSE(p.String(p.auxv[AT_EXECFN]).empty());
}

TEST(SpecBuilderTest, StackIsDeterministicAndSeedDependent) {
  const elf::ElfLayout layout = ParsedLayout(false);
  absl::StatusOr<Built> a =
      BuildLaunchSpec(layout, MakeManifest({"p", "q"}, {"E=1"}, 64 << 20, 5), "", kParent);
  absl::StatusOr<Built> b =
      BuildLaunchSpec(layout, MakeManifest({"p", "q"}, {"E=1"}, 64 << 20, 5), "", kParent);
  absl::StatusOr<Built> c =
      BuildLaunchSpec(layout, MakeManifest({"p", "q"}, {"E=1"}, 64 << 20, 6), "", kParent);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(a->park, b->park);
  EXPECT_EQ(a->park, c->park);  // the park spec never depends on the request
  EXPECT_EQ(a->go.stack_image, b->go.stack_image);
  EXPECT_NE(a->go.stack_image, c->go.stack_image);
  ParsedSpec pa(*a), pc(*c);
  pa.Walk();
  pc.Walk();
  EXPECT_EQ(pa.auxv[AT_RANDOM], pc.auxv[AT_RANDOM]);  // same address, different bytes
  EXPECT_NE(pa.Bytes(pa.auxv[AT_RANDOM], 16), pc.Bytes(pc.auxv[AT_RANDOM], 16));
}

TEST(SpecBuilderTest, AlignmentHoldsForEveryArgCountParity) {
  const elf::ElfLayout layout = ParsedLayout(false);
  for (int n = 1; n <= 6; ++n) {
    for (int e = 0; e <= 2; ++e) {
      std::vector<std::string> argv(n, "a"), env(e, "K=V");
      argv[0] = std::string(n, 'p');  // vary string lengths too
      absl::StatusOr<Built> built = BuildLaunchSpec(layout, MakeManifest(argv, env), "", kParent);
      ASSERT_THAT(built, IsOk());
      ParsedSpec p(*built);
      EXPECT_EQ(p.go.header.initial_sp % 16, 0u) << n << " " << e;
      p.Walk();
      EXPECT_EQ(p.argv, argv);
      EXPECT_EQ(p.env, env);
    }
  }
}

TEST(SpecBuilderTest, FilterIsAppendedAtFilterOffset) {
  std::string filter;
  for (int i = 0; i < 5; ++i) filter += std::string("\x06\x00\x00\x00", 4) + char('a' + i) + "bcd";
  ASSERT_EQ(filter.size(), 40u);
  absl::StatusOr<Built> built =
      BuildLaunchSpec(ParsedLayout(false), MakeManifest({"prog", "odd"}, {}), filter, kParent);
  ASSERT_THAT(built, IsOk());
  ParsedSpec p(*built);
  EXPECT_EQ(p.spec.filter_len, 5u);
  EXPECT_EQ(p.spec.filter_offset % 8, 0u);
  EXPECT_GE(p.spec.filter_offset, sizeof(LaunchSpec));
  ASSERT_EQ(built->park.size(), p.spec.filter_offset + filter.size());
  EXPECT_EQ(built->park.substr(p.spec.filter_offset), filter);
}

TEST(SpecBuilderTest, RlimitsArePresent) {
  const Manifest m = MakeManifest({"p"}, {}, int64_t{32} << 20);
  absl::StatusOr<Built> built = BuildLaunchSpec(ParsedLayout(false), m, "", kParent);
  ASSERT_THAT(built, IsOk());
  ParsedSpec p(*built);
  ASSERT_GT(p.spec.rlimit_count, 0u);
  ASSERT_LE(p.spec.rlimit_count, 8u);
  std::map<uint32_t, SpecRlimit> by_resource;
  std::vector<SpecRlimit> all(p.spec.rlimits, p.spec.rlimits + p.spec.rlimit_count);
  all.insert(all.end(), std::begin(p.go.header.rlimits), std::end(p.go.header.rlimits));
  for (const SpecRlimit& r : all) {
    EXPECT_LE(r.soft, r.hard) << r.resource;
    EXPECT_TRUE(by_resource.emplace(r.resource, r).second) << "duplicate " << r.resource;
  }
  // The request-dependent limits are the go plan's, set at release: never in the park spec.
  for (uint32_t i = 0; i < p.spec.rlimit_count; ++i) {
    EXPECT_NE(p.spec.rlimits[i].resource, static_cast<uint32_t>(RLIMIT_AS));
    EXPECT_NE(p.spec.rlimits[i].resource, static_cast<uint32_t>(RLIMIT_CPU));
  }
  ASSERT_TRUE(by_resource.count(RLIMIT_AS));
  EXPECT_GE(by_resource[RLIMIT_AS].soft, static_cast<uint64_t>(m.memory_bytes()));
  EXPECT_LE(by_resource[RLIMIT_AS].hard, static_cast<uint64_t>(m.memory_bytes()) + (64 << 20));
  ASSERT_TRUE(by_resource.count(RLIMIT_CPU));
  EXPECT_GE(by_resource[RLIMIT_CPU].soft, 3u);  // ceil(2.5 s), as a backstop above the limit
  EXPECT_LE(by_resource[RLIMIT_CPU].hard, 10u);
  ASSERT_TRUE(by_resource.count(RLIMIT_CORE));
  // 1, not 0: at 0 the kernel still starts a core_pattern pipe helper; at 1 it never does.
  EXPECT_EQ(by_resource[RLIMIT_CORE].soft, 1u);
  EXPECT_EQ(by_resource[RLIMIT_CORE].hard, 1u);
  ASSERT_TRUE(by_resource.count(RLIMIT_FSIZE));
  EXPECT_EQ(by_resource[RLIMIT_FSIZE].hard, 0u);
  ASSERT_TRUE(by_resource.count(RLIMIT_NOFILE));
}

TEST(SpecBuilderTest, ArgvLargerThanHalfTheStackIsRejected) {
  // 1 MiB of memory: a 128 KiB stack, so at most 64 KiB for argv + env + auxv.
  std::vector<std::string> argv = {"prog"};
  for (int i = 0; i < 200; ++i) argv.push_back(std::string(1024, 'a'));
  elf::ElfLayout layout = ParsedLayout(false);
  absl::StatusOr<Built> built =
      BuildLaunchSpec(layout, MakeManifest(argv, {}, 1 << 20), "", kParent);
  ASSERT_THAT(built, ::testing::Not(IsOk()));
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(built.status().message()), HasSubstr("argv"));
  // The same argv fits with a larger memory limit (8 MiB stack).
  absl::StatusOr<Built> ok =
      BuildLaunchSpec(layout, MakeManifest(argv, {}, int64_t{256} << 20), "", kParent);
  ASSERT_THAT(ok, IsOk());
  ParsedSpec p(*ok);
  p.Walk();
  EXPECT_EQ(p.argv, argv);
}

TEST(SpecBuilderTest, EnvCountsTowardsTheStackToo) {
  std::vector<std::string> env;
  for (int i = 0; i < 100; ++i) env.push_back("K=" + std::string(1000, 'v'));
  absl::StatusOr<Built> built =
      BuildLaunchSpec(ParsedLayout(false), MakeManifest({"prog"}, env, 1 << 20), "", kParent);
  ASSERT_THAT(built, ::testing::Not(IsOk()));
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpecBuilderTest, ImageAndStackBeyondMemoryIsRejected) {
  // 1 MiB of memory, 128 KiB of stack: the image may use 896 KiB. Text is [0x400000, 0x403000);
  // this bss size makes data span [0x404000, 0x404000 + 0xdd000), so image + stack == 1 MiB.
  constexpr uint64_t kFitsMemsz = (1 << 20) - kMinStackBytes - 0x3000 - 0x100;
  elf::ElfLayout layout = CraftedLayout();
  layout.segments[1].memsz = kFitsMemsz;
  absl::StatusOr<Built> fits =
      BuildLaunchSpec(layout, MakeManifest({"p"}, {}, 1 << 20), "", kParent);
  ASSERT_THAT(fits, IsOk());
  EXPECT_EQ(fits->image_bytes + fits->stack_bytes, uint64_t{1} << 20);
  // One more byte takes another page: the image alone fits, image + stack does not.
  layout.segments[1].memsz = kFitsMemsz + 1;
  absl::StatusOr<Built> built =
      BuildLaunchSpec(layout, MakeManifest({"p"}, {}, 1 << 20), "", kParent);
  ASSERT_THAT(built, ::testing::Not(IsOk()));
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(built.status().message()), HasSubstr("memory_bytes"));
  // Far beyond: 1 MiB of bss alone.
  layout.segments[1].memsz = 1 << 20;
  EXPECT_THAT(BuildLaunchSpec(layout, MakeManifest({"p"}, {}, 1 << 20), "", kParent),
              ::testing::Not(IsOk()));
}

TEST(SpecBuilderTest, TooManySegmentsIsRejected) {
  elf::ElfLayout layout = CraftedLayout();
  layout.segments.clear();
  for (int i = 0; i <= kMaxSegments; ++i) {
    layout.segments.push_back({0x400000 + uint64_t(i) * 0x1000, 0x1000, uint64_t(i) * 0x1000,
                               0x1000, true, false, false});
  }
  absl::StatusOr<Built> built = BuildLaunchSpec(layout, MakeManifest({"p"}, {}), "", kParent);
  ASSERT_THAT(built, ::testing::Not(IsOk()));
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace zerocell::sandbox::launch
