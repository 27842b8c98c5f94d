// Guest: the file system as a program sees it. argv[1] picks a probe; each prints "key=value"
// lines (a value, or "E<errno>").
//   paths  open/stat/readlink of paths that must stay inside the guest's trees
//   erofs  every call that would write to the tree
//   list DIR  readdir over DIR: count, first and last name
//   read FILE  read FILE in 4 KiB reads: bytes and a checksum
//   mmap FILE  map FILE read-only, private: its size and first bytes
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void put(const char *key, long r) {
  if (r < 0) {
    printf("%s=E%d\n", key, errno);
  } else {
    printf("%s=%ld\n", key, r);
  }
}

// The first line of `path`, or E<errno>.
static void head(const char *key, const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("%s=E%d\n", key, errno);
    return;
  }
  char buf[128] = {0};
  long n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  char *nl = strchr(buf, '\n');
  if (nl) *nl = 0;
  printf("%s=%s\n", key, n < 0 ? "read-error" : buf);
}

static int paths(void) {
  head("passwd", "/etc/passwd");
  head("climb", "/../../../../etc/passwd");
  head("dotdot", "/etc/../etc/./passwd");
  head("abs_link", "/bin/to_passwd");
  head("host_link", "/bin/to_host");
  head("proc_maps", "/proc/self/maps");
  head("proc_fd", "/proc/self/fd/0");
  head("dev_host", "/dev/../etc/shadow");
  head("mounted", "/data/table.csv");
  head("mount_up", "/data/../etc/passwd");
  head("loop", "/loop/a");
  char buf[256];
  put("readlink_exe", syscall(SYS_readlink, "/proc/self/exe", buf, sizeof(buf)));
  long n = readlink("/bin/to_host", buf, sizeof(buf) - 1);
  buf[n > 0 ? n : 0] = 0;
  printf("readlink_to_host=%s\n", buf);
  char longpath[5000];
  memset(longpath, 'a', sizeof(longpath));
  longpath[0] = '/';
  longpath[sizeof(longpath) - 1] = 0;
  put("long_path", open(longpath, O_RDONLY));
  put("long_name",
      open("/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
           O_RDONLY));
  put("chdir_etc", chdir("/etc"));
  head("relative", "passwd");
  printf("cwd=%s\n", getcwd(buf, sizeof(buf)) ? buf : "E");
  put("chdir_up", chdir("../../.."));
  printf("cwd_up=%s\n", getcwd(buf, sizeof(buf)) ? buf : "E");
  struct stat st;
  put("stat", stat("/etc/passwd", &st));
  printf("ino=%lu uid=%u mode=%o size=%ld mtime=%ld\n", (unsigned long)st.st_ino, st.st_uid,
         st.st_mode, (long)st.st_size, (long)st.st_mtime);
  head("stdin_alias", "/dev/stdin");
  return 0;
}

static int erofs(void) {
  put("open_wr", open("/etc/passwd", O_WRONLY));
  put("open_creat", open("/etc/new", O_WRONLY | O_CREAT, 0644));
  put("open_trunc", open("/etc/passwd", O_RDONLY | O_TRUNC));
  put("mkdir", mkdir("/etc/d", 0755));
  put("rmdir", rmdir("/etc"));
  put("unlink", unlink("/etc/passwd"));
  put("rename", rename("/etc/passwd", "/etc/p"));
  put("symlink", symlink("x", "/etc/s"));
  put("link", link("/etc/passwd", "/etc/l"));
  put("chmod", chmod("/etc/passwd", 0777));
  put("chown", chown("/etc/passwd", 0, 0));
  put("truncate", truncate("/etc/passwd", 0));
  put("utimensat", utimensat(AT_FDCWD, "/etc/passwd", NULL, 0));
  put("mknod", mknod("/etc/fifo", S_IFIFO | 0644, 0));
  int fd = open("/etc/passwd", O_RDONLY);
  put("fchmod", fchmod(fd, 0777));
  put("write", write(fd, "x", 1));
  put("ftruncate", ftruncate(fd, 0));
  printf("alive\n");
  return 0;
}

static int list(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    printf("opendir=E%d\n", errno);
    return 1;
  }
  long count = 0;
  char first[300] = "", last[300] = "";
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (count++ == 0) snprintf(first, sizeof(first), "%s", e->d_name);
    snprintf(last, sizeof(last), "%s", e->d_name);
  }
  closedir(d);
  printf("count=%ld first=%s last=%s\n", count, first, last);
  return 0;
}

static int read_all(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("open=E%d\n", errno);
    return 1;
  }
  static char buf[4096];
  unsigned long sum = 0, total = 0;
  long n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    for (long i = 0; i < n; ++i) sum = sum * 31 + (unsigned char)buf[i];
    total += (unsigned long)n;
  }
  printf("fd=%d bytes=%lu sum=%lu last=%ld\n", fd, total, sum, n);
  return 0;
}

static int map(const char *path) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    printf("open=E%d\n", errno);
    return 1;
  }
  char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    printf("mmap=E%d\n", errno);
  } else {
    printf("mmap=ok size=%ld head=%.8s\n", (long)st.st_size, p);
  }
  fflush(stdout);  // PROT_EXEC of a tree file ends the run (a policy violation, for now)
  void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  printf("mmap_exec=%s\n", x == MAP_FAILED ? "refused" : "mapped");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (strcmp(argv[1], "paths") == 0) return paths();
  if (strcmp(argv[1], "erofs") == 0) return erofs();
  if (argc < 3) return 2;
  if (strcmp(argv[1], "list") == 0) return list(argv[2]);
  if (strcmp(argv[1], "read") == 0) return read_all(argv[2]);
  if (strcmp(argv[1], "mmap") == 0) return map(argv[2]);
  return 2;
}
