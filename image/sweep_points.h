// Where the validator's linear sweep restarts: boundaries of executable sections and the entry.
#ifndef ZEROCELL_IMAGE_SWEEP_POINTS_H_
#define ZEROCELL_IMAGE_SWEEP_POINTS_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace zerocell::image {

// The start and end addresses (as linked) of every allocated, executable, file-backed section
// (SHF_ALLOC | SHF_EXECINSTR, not SHT_NOBITS) named by the section header table of the ELF64
// file `file`, sorted and without duplicates. Empty when the file has no usable section header
// table (stripped of it, or out of bounds): section headers are optional and untrusted, so they
// only add restart points, they never exclude bytes from decoding.
//
// Why: linkers fill the gaps between output sections with zeros, and a sweep that runs through
// such a gap can end mid-instruction and decode the next section out of step (busybox's
// `.fini` then starts with a phantom "in al, dx"). Restarting at each section start keeps the
// sweep in step with the code the compiler emitted.
std::vector<uint64_t> ExecutableSectionBoundaries(std::string_view file);

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_SWEEP_POINTS_H_
