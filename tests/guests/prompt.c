// Guest: an interactive dialogue. Writes "name? ", reads one line from stdin, answers
// "hello, <line>\n", and again until end of input; then writes "bye\n" and exits 0. Uses
// read/write directly (no stdio buffering), one byte at a time for the line.
#include <string.h>
#include <unistd.h>

static int read_line(char *buf, int cap) {
  int n = 0;
  while (n < cap - 1) {
    char c;
    ssize_t r = read(0, &c, 1);
    if (r <= 0) return n > 0 ? n : -1;
    if (c == '\n') break;
    buf[n++] = c;
  }
  buf[n] = 0;
  return n;
}

int main(void) {
  char line[256];
  for (;;) {
    write(1, "name? ", 6);
    if (read_line(line, sizeof line) < 0) break;
    write(1, "hello, ", 7);
    write(1, line, strlen(line));
    write(1, "\n", 1);
  }
  write(1, "bye\n", 4);
  return 0;
}
