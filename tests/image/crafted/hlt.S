// Crafted image: hlt (allowed: it faults in user mode and libcs use it as their crash trap).
#include "crafted_start.inc"
  hlt
  ret
