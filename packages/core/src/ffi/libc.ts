/**
 * The one place that talks to koffi: libc functions and the constants they take.
 *
 * Loaded inside the sandbox by the bootstrap, and on the host only for a side-effect
 * report (overlayfs's opaque-directory xattr; Node has no xattr API). Loading koffi through its package
 * entry costs ~15 ms (platform detection, probing candidate paths) and resolving it
 * another ~4 ms; dlopen of its prebuilt addon costs ~2 ms. That is paid once per test
 * file, so the host resolves the addon's path once (ffi/addon-path.ts) and the bootstrap
 * dlopens it directly. No `node:module` here: it would load Node's ESM loader into every
 * sandbox's start.
 */
import { constants } from 'node:fs'
import type * as KoffiModule from 'koffi'

type Koffi = typeof KoffiModule

function loadKoffi (addonPath: string): Koffi {
  const module = { exports: {} as Koffi }
  process.dlopen(module, addonPath)
  return module.exports
}

// Syscall numbers that glibc has no wrapper for. Both are in the generic table on arm64.
const SYSCALLS: Record<string, { pivot_root: number, mount_setattr: number }> = {
  x64: { pivot_root: 155, mount_setattr: 442 },
  arm64: { pivot_root: 41, mount_setattr: 442 }
}

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000
} as const

export const MNT_DETACH = 0x2
export const CLONE_NEWCGROUP = 0x02000000
const AT_FDCWD = -100
const AT_RECURSIVE = 0x8000
const MOUNT_ATTR_RDONLY = 0x1
const PR_SET_NO_NEW_PRIVS = 38
const PR_CAPBSET_DROP = 24
const PR_CAP_AMBIENT = 47
const PR_CAP_AMBIENT_CLEAR_ALL = 4
const F_SETFD = 2
const FD_CLOEXEC = 1
const SIOCSIFFLAGS = 0x8914
const IFF_UP = 0x1
const IFF_RUNNING = 0x40
const AF_INET = 2
const SOCK_DGRAM = 2
const LINUX_CAPABILITY_VERSION_3 = 0x20080522

function bind (koffi: Koffi) {
  const libc = koffi.load('libc.so.6')
  return {
    koffi,
    mountFn: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2Fn: libc.func('int umount2(const char *target, int flags)'),
    sethostnameFn: libc.func('int sethostname(const char *name, size_t len)'),
    unshareFn: libc.func('int unshare(int flags)'),
    syscallFn: libc.func('long syscall(long number, ...)'),
    prctlFn: libc.func('int prctl(int option, ...)'),
    fcntlFn: libc.func('int fcntl(int fd, int cmd, ...)'),
    capsetFn: libc.func('int capset(void *header, void *data)'),
    socketFn: libc.func('int socket(int domain, int type, int protocol)'),
    ioctlFn: libc.func('int ioctl(int fd, unsigned long request, ...)'),
    closeFn: libc.func('int close(int fd)'),
    execveFn: libc.func('int execve(const char *path, const char **argv, const char **envp)'),
    strerrorFn: libc.func('const char *strerror(int errnum)'),
    lgetxattrFn: libc.func('long lgetxattr(const char *path, const char *name, void *value, size_t size)'),
    mkdirFn: libc.func('int mkdir(const char *path, unsigned int mode)'),
    symlinkFn: libc.func('int symlink(const char *target, const char *linkpath)'),
    chmodFn: libc.func('int chmod(const char *path, unsigned int mode)'),
    accessFn: libc.func('int access(const char *path, int mode)'),
    openFn: libc.func('int open(const char *path, int flags, ...)'),
    statxFn: libc.func('int statx(int dirfd, const char *path, int flags, unsigned int mask, void *buf)'),
    dprintfFn: libc.func('int dprintf(int fd, const char *format, ...)')
  }
}

let libc: ReturnType<typeof bind> | undefined

/** Load koffi and bind libc; the bootstrap calls this first, with the host-resolved addon path. */
export function loadLibc (addonPath: string): void {
  libc ??= bind(loadKoffi(addonPath))
}

export function isLibcLoaded (): boolean {
  return libc !== undefined
}

function fns (): ReturnType<typeof bind> {
  if (libc === undefined) throw new Error('libc used before loadLibc(koffiAddonPath())')
  return libc
}

/** A failed libc call: the function, its subject, and errno by name. */
export class SyscallError extends Error {
  readonly errno: number
  readonly errnoName: string
  readonly syscall: string

  constructor (syscall: string, subject: string, errno: number) {
    const errnoName = errnoNameOf(errno)
    super(`${syscall}(${subject}) failed: ${errnoName} (${String(fns().strerrorFn(errno))})`)
    this.errno = errno
    this.errnoName = errnoName
    this.syscall = syscall
  }
}

function errnoNameOf (errno: number): string {
  const entry = Object.entries(fns().koffi.os.errno).find(([, value]) => value === errno)
  return entry === undefined ? `errno ${errno}` : entry[0]
}

function check (result: number | bigint, syscall: string, subject: string): void {
  if (Number(result) < 0) throw new SyscallError(syscall, subject, fns().koffi.errno())
}

function syscallNumbers (): { pivot_root: number, mount_setattr: number } {
  const numbers = SYSCALLS[process.arch]
  if (numbers === undefined) throw new Error(`ns-sandbox supports x64 and arm64, not ${process.arch}`)
  return numbers
}

export function mount (source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
  check(fns().mountFn(source, target, fstype, flags, data), 'mount', `${fstype ?? source ?? ''} on ${target}`)
}

export function umount2 (target: string, flags: number): void {
  check(fns().umount2Fn(target, flags), 'umount2', target)
}

export function pivotRoot (newRoot: string, putOld: string): void {
  check(fns().syscallFn(syscallNumbers().pivot_root, 'const char *', newRoot, 'const char *', putOld), 'pivot_root', newRoot)
}

/** Make a mount and every mount below it read-only (mount_setattr, Linux >= 5.12). */
export function makeReadOnlyRecursive (path: string): void {
  // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd }; attr_set's low
  // half first (x64 and arm64 are little-endian)
  const attr = new Uint32Array(8)
  attr[0] = MOUNT_ATTR_RDONLY
  const result = fns().syscallFn(syscallNumbers().mount_setattr, 'int', AT_FDCWD, 'const char *', path,
    'unsigned int', AT_RECURSIVE, 'void *', attr, 'size_t', attr.byteLength)
  check(result, 'mount_setattr', path)
}

export function sethostname (name: string): void {
  // ASCII (the option allows letters, digits, dots and dashes), so bytes = characters
  check(fns().sethostnameFn(name, name.length), 'sethostname', name)
}

export function unshare (flags: number): void {
  check(fns().unshareFn(flags), 'unshare', `0x${flags.toString(16)}`)
}

/** Whether `fd` survives execve. Node opens even fds 0-2 close-on-exec. */
export function setInheritable (fd: number, inheritable: boolean): void {
  check(fns().fcntlFn(fd, F_SETFD, 'int', inheritable ? 0 : FD_CLOEXEC), 'fcntl', `fd ${fd}, F_SETFD`)
}

export function setNoNewPrivs (): void {
  check(fns().prctlFn(PR_SET_NO_NEW_PRIVS, 'unsigned long', 1, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0),
    'prctl', 'PR_SET_NO_NEW_PRIVS')
}

/**
 * Drop every capability of the calling thread: ambient, bounding, then effective,
 * permitted and inheritable. Threads created afterwards inherit the empty sets.
 */
export function dropAllCapabilities (lastCap: number): void {
  check(fns().prctlFn(PR_CAP_AMBIENT, 'unsigned long', PR_CAP_AMBIENT_CLEAR_ALL, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0),
    'prctl', 'PR_CAP_AMBIENT_CLEAR_ALL')
  for (let cap = 0; cap <= lastCap; cap++) {
    check(fns().prctlFn(PR_CAPBSET_DROP, 'unsigned long', cap, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0),
      'prctl', `PR_CAPBSET_DROP ${cap}`)
  }
  const header = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]) // version, pid (0: this thread)
  const data = new Uint32Array(6) // two struct __user_cap_data_struct, all zero
  check(fns().capsetFn(header, data), 'capset', 'all sets empty')
}

/** Bring a network interface up (SIOCSIFFLAGS with IFF_UP|IFF_RUNNING). */
export function interfaceUp (name: string): void {
  const fd = fns().socketFn(AF_INET, SOCK_DGRAM, 0)
  check(fd, 'socket', 'AF_INET')
  try {
    const ifreq = new Uint8Array(40) // struct ifreq: char ifr_name[16]; short ifr_flags; ...
    for (let i = 0; i < Math.min(name.length, 15); i++) ifreq[i] = name.charCodeAt(i) & 0xff
    const flags = IFF_UP | IFF_RUNNING
    ifreq[16] = flags & 0xff // little-endian short
    ifreq[17] = flags >> 8
    check(fns().ioctlFn(fd, SIOCSIFFLAGS, 'void *', ifreq), 'ioctl', `SIOCSIFFLAGS ${name}`)
  } finally {
    fns().closeFn(fd)
  }
}

/** An extended attribute's value (up to `maxBytes`), or undefined when it is not set or unreadable. */
export function readXattr (path: string, name: string, maxBytes = 256): Buffer | undefined {
  const value = Buffer.alloc(maxBytes)
  const length = Number(fns().lgetxattrFn(path, name, value, value.length))
  return length < 0 ? undefined : value.subarray(0, length)
}

/** Replace this process image. Returns only by throwing. */
export function execve (path: string, argv: string[], env: string[]): never {
  fns().execveFn(path, [...argv, null], [...env, null])
  throw new SyscallError('execve', path, fns().koffi.errno())
}

/**
 * Write a line of text to `fd` whole. Node's writeSync would do; its first call in a fresh
 * process costs ~0.3 ms, this ~0.05. (JSON text holds no NUL, which would end the string.)
 */
export function writeText (fd: number, text: string): boolean {
  return fns().dprintfFn(fd, '%s', 'const char *', text) >= 0
}

// Filesystem calls for the mount plan. Node's fs functions would do, but each one's first
// call in a fresh process costs 0.2-0.4 ms of cold code (the plan's first mkdir: 0.4 ms,
// the next ones 0.04), and the bootstrap calls each kind only a few times.

/** errno's value for a name, from koffi's table for this platform. */
function errnoValue (name: string): number | undefined {
  return (fns().koffi.os.errno as Record<string, number>)[name]
}

/**
 * mkdir(2). An existing path and a missing parent are answers, not errors: the plan meets
 * both, and a thrown SyscallError costs ~0.2 ms (strerror, errno's name, a stack).
 */
export function makeDirectory (path: string, mode: number): 'created' | 'exists' | 'no-parent' {
  if (fns().mkdirFn(path, mode) === 0) return 'created'
  const errno = fns().koffi.errno()
  if (errno === errnoValue('EEXIST')) return 'exists'
  if (errno === errnoValue('ENOENT')) return 'no-parent'
  throw new SyscallError('mkdir', path, errno)
}

export function symlink (target: string, path: string): void {
  check(fns().symlinkFn(target, path), 'symlink', `${path} -> ${target}`)
}

export function chmod (path: string, mode: number): void {
  check(fns().chmodFn(path, mode), 'chmod', path)
}

/** access(2) with W_OK: whether this process may write `path`. */
export function isWritable (path: string): boolean {
  return fns().accessFn(path, constants.W_OK) === 0
}

/**
 * Create an empty file if there is none, never through a symlink. Opened read-only: an
 * existing file on an overlay is not copied up. A directory there, or a missing parent,
 * is an answer like in makeDirectory.
 */
export function createEmptyFile (path: string, mode: number): 'done' | 'is-directory' | 'no-parent' {
  const fd = fns().openFn(path, constants.O_CREAT | constants.O_RDONLY | constants.O_NOFOLLOW | O_CLOEXEC, 'unsigned int', mode)
  if (fd >= 0) {
    fns().closeFn(fd)
    return 'done'
  }
  const errno = fns().koffi.errno()
  if (errno === errnoValue('EISDIR')) return 'is-directory'
  if (errno === errnoValue('ENOENT')) return 'no-parent'
  throw new SyscallError('open', path, errno)
}

const STATX_TYPE = 0x1
const STATX_MODE = 0x2
/** Offset of stx_mode (u16) in struct statx, the same on every architecture. */
const STATX_MODE_OFFSET = 0x1c

/** st_mode of `path` (type and permission bits), following symlinks. */
export function fileMode (path: string): number {
  const buffer = new Uint8Array(256)
  check(fns().statxFn(AT_FDCWD, path, 0, STATX_TYPE | STATX_MODE, buffer), 'statx', path)
  return new DataView(buffer.buffer).getUint16(STATX_MODE_OFFSET, true)
}

// The host's forward relay (forward/splice-worker.ts) moves bytes between sockets with
// splice(2). Bound on first use, apart from the rest: the bootstrap never pays for them.
function bindRelay (koffi: Koffi) {
  const lib = koffi.load('libc.so.6')
  return {
    pollFn: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    spliceFn: lib.func('long splice(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, unsigned int flags)'),
    pipe2Fn: lib.func('int pipe2(_Out_ int *fds, int flags)'),
    shutdownFn: lib.func('int shutdown(int fd, int how)'),
    readFn: lib.func('long read(int fd, void *buf, size_t count)')
  }
}

let relayLibc: ReturnType<typeof bindRelay> | undefined

function relayFns (): ReturnType<typeof bindRelay> {
  relayLibc ??= bindRelay(fns().koffi)
  return relayLibc
}

export const POLLIN = 0x1
export const POLLOUT = 0x4
/** sizeof(struct pollfd): int fd; short events; short revents. */
export const POLLFD_SIZE = 8
const EAGAIN = 11
const EINTR = 4
const O_NONBLOCK = 0o4000
const O_CLOEXEC = 0o2000000
const F_SETPIPE_SZ = 1031
const SPLICE_F_MOVE = 1
const SPLICE_F_NONBLOCK = 2
const SHUT_WR = 1

/** A non-blocking pipe [read end, write end], grown to `capacity` bytes where the user's pipe quota allows. */
export function createPipe (capacity: number): [number, number] {
  const fds = [0, 0]
  check(relayFns().pipe2Fn(fds, O_NONBLOCK | O_CLOEXEC), 'pipe2', 'O_NONBLOCK')
  fns().fcntlFn(fds[1], F_SETPIPE_SZ, 'int', capacity) // best effort: a smaller pipe only moves less per call
  return [fds[0] ?? -1, fds[1] ?? -1]
}

/** poll(2) over `count` struct pollfd in `fds`; returns early on EINTR. */
export function pollFds (fds: Buffer, count: number, timeoutMs: number): void {
  const result = relayFns().pollFn(fds, count, timeoutMs)
  if (result < 0 && fns().koffi.errno() !== EINTR) check(result, 'poll', `${count} fds`)
}

/**
 * Move up to `length` bytes from `from` to `to` (one of them a pipe) without copying them
 * through JavaScript. Returns the bytes moved, 0 at end of input, -1 when it would block;
 * any other failure throws (its errno tells a reset from a broken pipe).
 */
export function spliceSome (from: number, to: number, length: number): number {
  const moved = Number(relayFns().spliceFn(from, null, to, null, length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK))
  if (moved >= 0) return moved
  const errno = fns().koffi.errno()
  if (errno === EAGAIN) return -1
  throw new SyscallError('splice', `fd ${from} -> fd ${to}`, errno)
}

export function shutdownWrite (fd: number): void {
  relayFns().shutdownFn(fd, SHUT_WR) // a peer that is gone already has nothing to be told
}

/** Read and discard what a non-blocking descriptor holds (a wake-up pipe). */
export function drainFd (fd: number): void {
  const buffer = Buffer.alloc(256)
  while (Number(relayFns().readFn(fd, buffer, buffer.length)) > 0) { /* discard */ }
}

export function closeFd (fd: number): void {
  fns().closeFn(fd)
}
