/* Prints a greeting: the smallest real program for the ELF checks, linked several ways. */
#include <stdio.h>

int main(void) {
  puts("hello from a static ELF");
  return 0;
}
