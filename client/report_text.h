// Human forms of admission reports (`zerocell validate`, `register`) and host reports (`doctor`).
#ifndef ZEROCELL_CLIENT_REPORT_TEXT_H_
#define ZEROCELL_CLIENT_REPORT_TEXT_H_

#include <string>

#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// Indented lines (each "  key: ..."), e.g.
//   kind: ET_EXEC, entry 0x401000, 2 load segments
//   executable bytes: 4737
//   instructions: 1248 decoded against the standard policy in 0.170 ms
//   undecodable bytes: 1 in 1 ranges
//     file offset 0x1e3f (vaddr 0x401e3f), length 1
//   warnings: 30
//     cpuid: 29 places, first at 0x40f1c8
//     rdtsc at 0x4bc5f3
//   refused instructions: 0
// Warnings of one kind are summarised (the JSON form lists each); at most 5 undecodable ranges
// are listed. "refused instructions: N" is the total (rejected_instructions), followed by the
// ones the report kept ("N (the first 100 listed)" when it kept fewer); "in 100+ ranges" when
// undecodable_bytes is more than the kept ranges hold.
std::string FormatReportText(const zerocell::v1::ValidationReport& report);

// The lines a rejected image's report adds to an error: one per refused instruction, e.g.
// "  refused: int 0x80 at 0x401a2c (file offset 0x1a2c): software interrupt other than int3".
// Local runs and remote refusals print the same lines.
std::string FormatRejections(const zerocell::v1::ValidationReport& report);

// The host probe's findings, one line each: "  ok  name = value: meaning", or "  --  " for one
// that does not hold (`zerocell doctor`).
std::string FormatHostReport(const zerocell::v1::HostReport& report);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_REPORT_TEXT_H_
