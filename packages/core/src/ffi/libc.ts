/**
 * The one place that talks to koffi: libc functions and the constants they take.
 *
 * Loaded inside the sandbox by the bootstrap (close-on-exec for the status fd, execve for
 * a command; the setup that needs privileges is the init's, inside/init.pl), and on the
 * host for the forward relay and a side-effect report (overlayfs's opaque-directory
 * xattr; Node has no xattr API). Loading koffi through its package entry costs ~15 ms
 * (platform detection, probing candidate paths) and resolving it another ~4 ms; dlopen of
 * its prebuilt addon costs ~2 ms. That is paid once per test file, so the host resolves
 * the addon's path once (ffi/addon-path.ts) and the bootstrap dlopens it directly. No
 * `node:module` here: it would load Node's ESM loader into every sandbox's start.
 */
import type * as KoffiModule from 'koffi'

type Koffi = typeof KoffiModule

function loadKoffi (addonPath: string): Koffi {
  const module = { exports: {} as Koffi }
  process.dlopen(module, addonPath)
  return module.exports
}

const F_SETFD = 2
const FD_CLOEXEC = 1

function bind (koffi: Koffi) {
  const libc = koffi.load('libc.so.6')
  return {
    koffi,
    fcntlFn: libc.func('int fcntl(int fd, int cmd, ...)'),
    closeFn: libc.func('int close(int fd)'),
    execveFn: libc.func('int execve(const char *path, const char **argv, const char **envp)'),
    strerrorFn: libc.func('const char *strerror(int errnum)'),
    lgetxattrFn: libc.func('long lgetxattr(const char *path, const char *name, void *value, size_t size)'),
    dprintfFn: libc.func('int dprintf(int fd, const char *format, ...)')
  }
}

let libc: ReturnType<typeof bind> | undefined

/** Load koffi and bind libc, with the host-resolved addon path. */
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

/** Whether `fd` survives execve. Node opens even fds 0-2 close-on-exec. */
export function setInheritable (fd: number, inheritable: boolean): void {
  check(fns().fcntlFn(fd, F_SETFD, 'int', inheritable ? 0 : FD_CLOEXEC), 'fcntl', `fd ${fd}, F_SETFD`)
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
