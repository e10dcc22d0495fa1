/*
 * Measurement prototype, not part of ns-sandbox: one single-threaded native process that
 * does what setpriv + unshare + the init script + the bootstrap's setup do in the product
 * (pdeathsig, namespaces, id maps, cgroup, the mount plan, pivot_root, hostname, lo,
 * capabilities, no_new_privs), then execs the command. compare.mjs times it against the
 * product's launch chain to tell what a native launcher would save. It has none of the
 * product's diagnostics, status protocol, report or forwards.
 *
 * Build: cc -O2 -o nsb-launch nsb-launch.c
 * Configuration on fd 3, read to EOF; one record per line, fields separated by 0x1f:
 *   I <uid> <gid> <root 0|1> <last capability> <hostname> <network loopback|none|host>
 *   C <cgroup.procs file>          the launcher moves PID 1 there before setup
 *   S <op> <fields...>             a mount plan step (MountStep, in compare.mjs's order)
 *   R <new root>   D <cwd>   X <argv...>
 * When the command has ended, "exit <status>" on fd 3; then fds 0-3 close, so the
 * caller's pipes end before the launcher unmounts anything (it holds the mount
 * namespace, as the product's runner does). NSB_TRACE=1: per-step times on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIELDS 8
#define MAX_LINES 512
#define SYS_MOUNT_SETATTR 442
#define MOUNT_ATTR_RDONLY_FLAG 0x1
#define AT_RECURSIVE_FLAG 0x8000

static char *lines[MAX_LINES];
static int line_count;
static int tracing;

static void die(const char *what, const char *subject) {
  dprintf(2, "nsb-launch: %s(%s): %s\n", what, subject ? subject : "", strerror(errno));
  _exit(125);
}

/* Fields of a record; missing ones are "". Splits in place, once per line. */
static void split(char *line, char **fields) {
  int n = 0;
  for (int k = 0; k < MAX_FIELDS; k++) fields[k] = "";
  fields[n++] = line;
  for (char *p = line; *p && n < MAX_FIELDS; p++) {
    if (*p == '\x1f') { *p = 0; fields[n++] = p + 1; }
  }
}

static void read_config(int fd) {
  static char buf[1 << 17];
  size_t len = 0;
  ssize_t r;
  while ((r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += r;
  if (r < 0) die("read", "configuration");
  buf[len] = 0;
  for (char *p = buf; *p && line_count < MAX_LINES;) {
    char *end = strchr(p, '\n');
    if (end) *end = 0;
    lines[line_count++] = p;
    if (!end) break;
    p = end + 1;
  }
}

/* The first record of a type, split; NULL when there is none. */
static char **record(char type) {
  static char *fields[MAX_FIELDS];
  for (int i = 0; i < line_count; i++) {
    if (lines[i][0] == type) { split(lines[i], fields); return fields; }
  }
  return NULL;
}

static void write_file(const char *file, const char *text) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) < 0) die("write", file);
  close(fd);
}

static void make_directories(const char *dir) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) return;
  if (errno != ENOENT) die("mkdir", dir);
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", dir);
  char *slash = strrchr(parent, '/');
  if (!slash || slash == parent) die("mkdir", dir);
  *slash = 0;
  make_directories(parent);
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) die("mkdir", dir);
}

static void create_file(const char *file) {
  int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT) {
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", file);
    *strrchr(parent, '/') = 0;
    make_directories(parent);
    fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  }
  if (fd < 0) die("open", file);
  close(fd);
}

static void make_read_only_recursive(const char *path) {
  struct { unsigned long long attr_set, attr_clr, propagation, userns_fd; } attr = { MOUNT_ATTR_RDONLY_FLAG, 0, 0, 0 };
  if (syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path, AT_RECURSIVE_FLAG, &attr, sizeof attr) != 0) die("mount_setattr", path);
}

/* overlayfs separates layers with ':' and options with ','. */
static void escape_overlay_path(char *out, const char *in) {
  for (; *in; in++) {
    if (*in == ',' || *in == ':' || *in == '\\') *out++ = '\\';
    *out++ = *in;
  }
  *out = 0;
}

static void must_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
  if (mount(source, target, type, flags, data) != 0) die(type ? type : "bind", target);
}

static void execute_step(char **f) {
  const char *op = f[1];
  if (!strcmp(op, "mkdir")) {
    make_directories(f[2]);
    if (*f[3]) chmod(f[2], strtol(f[3], NULL, 8));
  } else if (!strcmp(op, "file")) {
    create_file(f[2]);
  } else if (!strcmp(op, "symlink")) {
    if (symlink(f[2], f[3]) != 0) die("symlink", f[3]);
  } else if (!strcmp(op, "tmpfs")) {
    char data[64];
    snprintf(data, sizeof data, "mode=%s", f[3]);
    must_mount("tmpfs", f[2], "tmpfs", MS_NOSUID | MS_NODEV | (f[4][0] == '1' ? MS_RDONLY | MS_NOEXEC : 0), data);
  } else if (!strcmp(op, "overlay")) {
    const char *lower = f[2], *upper = f[3], *work = f[4], *target = f[5];
    struct stat st;
    /* the upper directory takes the lower's mode, without write bits the caller lacks */
    make_directories(upper);
    if (stat(lower, &st) != 0) die("stat", lower);
    mode_t mode = st.st_mode & 07777;
    if (access(lower, W_OK) != 0) mode &= ~0222;
    chmod(upper, mode);
    make_directories(work);
    char l[4200], u[4200], w[4200], data[13000];
    escape_overlay_path(l, lower);
    escape_overlay_path(u, upper);
    escape_overlay_path(w, work);
    snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s,userxattr", l, u, w);
    must_mount("overlay", target, "overlay", 0, data);
  } else if (!strcmp(op, "bind")) {
    must_mount(f[2], f[3], NULL, MS_BIND | MS_REC, NULL);
    if (f[4][0] == '1') make_read_only_recursive(f[3]);
  } else if (!strcmp(op, "proc")) {
    must_mount("proc", f[2], "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  } else if (!strcmp(op, "devpts")) {
    must_mount("devpts", f[2], "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620");
  } else if (!strcmp(op, "sysfs")) {
    if (f[3][0] == '1') {
      must_mount("sysfs", f[2], "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    } else {
      must_mount("/sys", f[2], NULL, MS_BIND | MS_REC, NULL);
      make_read_only_recursive(f[2]);
    }
  } else {
    errno = EINVAL;
    die("step", op);
  }
}

static long elapsed_ns(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since->tv_sec) * 1000000000L + now.tv_nsec - since->tv_nsec;
}

static void interface_up(const char *name) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = { 0 };
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  ifr.ifr_flags = IFF_UP | IFF_RUNNING;
  if (fd < 0 || ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) die("ioctl", name);
  close(fd);
}

static void drop_capabilities(int last_capability) {
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= last_capability; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) die("prctl", "PR_CAPBSET_DROP");
  }
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = { { 0 } };
  if (syscall(SYS_capset, &header, data) != 0) die("capset", "all sets empty");
}

/* The X record's fields, as execv's argv. */
static char **command_argv(void) {
  static char *argv[64];
  for (int i = 0; i < line_count; i++) {
    if (lines[i][0] != 'X') continue;
    int argc = 0;
    char *p = lines[i] + 2;
    argv[argc++] = p;
    for (; *p && argc < 63; p++) {
      if (*p == '\x1f') { *p = 0; argv[argc++] = p + 1; }
    }
    argv[argc] = NULL;
    return argv;
  }
  errno = EINVAL;
  die("configuration", "no X record");
  return NULL;
}

/* PID 2: the filesystem, the root, the identity; then the command. */
static void set_up_and_exec(int keep_capabilities, int last_capability, const char *hostname, const char *network) {
  struct timespec start;
  must_mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL);
  for (int i = 0; i < line_count; i++) {
    if (lines[i][0] != 'S') continue;
    char *fields[MAX_FIELDS];
    split(lines[i], fields);
    clock_gettime(CLOCK_MONOTONIC, &start);
    execute_step(fields);
    if (tracing) dprintf(2, "T %s %ld\n", fields[1], elapsed_ns(&start));
  }
  clock_gettime(CLOCK_MONOTONIC, &start);
  const char *root = record('R')[1];
  if (chdir(root) != 0) die("chdir", root);
  /* pivot_root(".", ".") stacks the old root under the new one; detach it */
  if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root", ".");
  if (umount2(".", MNT_DETACH) != 0) die("umount2", ".");
  const char *cwd = record('D')[1];
  if (chdir(cwd) != 0 && chdir("/") != 0) die("chdir", "/");
  if (sethostname(hostname, strlen(hostname)) != 0) die("sethostname", hostname);
  if (!strcmp(network, "loopback")) interface_up("lo");
  if (!keep_capabilities) drop_capabilities(last_capability);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("prctl", "PR_SET_NO_NEW_PRIVS");
  if (tracing) dprintf(2, "T root-and-privileges %ld\n", elapsed_ns(&start));
  char **argv = command_argv();
  execv(argv[0], argv);
  die("execv", argv[0]);
}

static pid_t command_pid;

static void forward_signal(int signal) {
  if (command_pid > 0) kill(command_pid, signal);
}

/* PID 1: start the command, forward SIGTERM/SIGINT, reap everything, end with the command. */
static void run_init(int keep_capabilities, int last_capability, const char *hostname, const char *network) {
  pid_t command = fork();
  if (command < 0) die("fork", "command");
  if (command == 0) set_up_and_exec(keep_capabilities, last_capability, hostname, network);
  command_pid = command;
  struct sigaction forward = { .sa_handler = forward_signal };
  sigaction(SIGTERM, &forward, NULL);
  sigaction(SIGINT, &forward, NULL);
  for (;;) {
    int status;
    pid_t reaped = waitpid(-1, &status, 0);
    if (reaped < 0 && errno == EINTR) continue;
    if (reaped < 0) _exit(125);
    if (reaped == command) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
}

int main(void) {
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(125);
  tracing = getenv("NSB_TRACE") != NULL;
  read_config(3);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  char **identity = record('I');
  if (!identity) { errno = EINVAL; die("configuration", "no I record"); }
  uid_t uid = (uid_t)atoi(identity[1]);
  gid_t gid = (gid_t)atoi(identity[2]);
  int as_root = identity[3][0] == '1';
  int last_capability = atoi(identity[4]);
  char hostname[256], network[32];
  snprintf(hostname, sizeof hostname, "%s", identity[5]);
  snprintf(network, sizeof network, "%s", identity[6]);

  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) die("pipe2", "go");
  unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  if (strcmp(network, "host") != 0) flags |= CLONE_NEWNET;
  /* a fork into new namespaces: the child is PID 1 of the new PID namespace */
  pid_t init = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
  if (init < 0) die("clone", "new namespaces");
  if (init == 0) {
    close(3);
    close(go[1]);
    char byte;
    if (read(go[0], &byte, 1) != 1) _exit(125); /* the launcher failed or died */
    close(go[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* the launcher has moved PID 1 into the sandbox's cgroup: root a cgroup namespace there */
    if (unshare(CLONE_NEWCGROUP) != 0) die("unshare", "CLONE_NEWCGROUP");
    run_init(as_root, last_capability, hostname, network);
  }
  close(go[0]);
  char path[64], text[64];
  if (uid != 0) {
    snprintf(path, sizeof path, "/proc/%d/setgroups", init);
    write_file(path, "deny");
  }
  snprintf(text, sizeof text, "%u %u 1\n", as_root ? 0 : uid, uid);
  snprintf(path, sizeof path, "/proc/%d/uid_map", init);
  write_file(path, text);
  snprintf(text, sizeof text, "%u %u 1\n", as_root ? 0 : gid, gid);
  snprintf(path, sizeof path, "/proc/%d/gid_map", init);
  write_file(path, text);
  snprintf(text, sizeof text, "%d", init);
  for (int i = 0; i < line_count; i++) {
    if (lines[i][0] == 'C') write_file(lines[i] + 2, text);
  }
  /* held until exit, so PID 1's exit does not wait for the unmounts */
  snprintf(path, sizeof path, "/proc/%d/ns/mnt", init);
  int mount_namespace = open(path, O_RDONLY | O_CLOEXEC);
  if (write(go[1], "x", 1) != 1) die("write", "go");
  close(go[1]);
  int status;
  while (waitpid(init, &status, 0) < 0 && errno == EINTR) {}
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  dprintf(3, "exit %d\n", code);
  for (int fd = 0; fd <= 3; fd++) close(fd);
  (void)mount_namespace;
  _exit(code);
}
