// Crafted image: cpuid (allowed with a warning under both policies).
#include "crafted_start.inc"
  cpuid
  ret
