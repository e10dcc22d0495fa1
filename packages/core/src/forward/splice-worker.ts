/**
 * The forward relay's thread: moves bytes between each forwarded client socket and its
 * service socket with splice(2), through a pipe per direction, so no byte passes through
 * JavaScript (a Node stream relay reached ~40% of direct loopback throughput here; this
 * one comes close to direct). It blocks in poll(2); the main thread posts commands on a
 * MessagePort and writes a byte to the wake-up pipe. The sockets stay the main thread's:
 * this thread never closes them, it reports `ended` and the main thread closes them.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads'
import { closeFd, createPipe, drainFd, loadLibc, pollFds, POLLFD_SIZE, POLLIN, POLLOUT, shutdownWrite, spliceSome, SyscallError } from '../ffi/libc.js'
import type { RelayCommand, RelayEnded, SpliceWorkerData } from './splice-protocol.js'

/** Per pipe: enough for a burst without hitting the per-user pipe quota with many connections. */
const PIPE_CAPACITY = 256 * 1024
/** Wakes up at least this often even if a wake-up byte were lost (the thread must be able to end). */
const POLL_TIMEOUT_MS = 1000

interface Direction {
  from: number
  to: number
  pipe: [number, number]
  /** Bytes in the pipe not yet written to `to`. */
  buffered: number
  /** `from` reached its end. */
  ended: boolean
  /** `to` was half-closed after the last byte. */
  shut: boolean
}

interface Pair { id: number, directions: [Direction, Direction] }

const { koffiAddon, wakeFd, port } = workerData as SpliceWorkerData & { port: MessagePort }
loadLibc(koffiAddon)
const pairs = new Map<number, Pair>()

function direction (from: number, to: number): Direction {
  return { from, to, pipe: createPipe(PIPE_CAPACITY), buffered: 0, ended: false, shut: false }
}

/** Move what can be moved now without blocking. Throws SyscallError when a socket failed. */
function advance (d: Direction): void {
  for (;;) {
    if (d.buffered > 0) {
      const written = spliceSome(d.pipe[0], d.to, d.buffered)
      if (written < 0) return
      d.buffered -= written
      if (d.buffered > 0) return
    }
    if (d.ended) {
      if (!d.shut) { shutdownWrite(d.to); d.shut = true }
      return
    }
    const read = spliceSome(d.from, d.pipe[1], PIPE_CAPACITY)
    if (read < 0) return
    if (read === 0) d.ended = true
    d.buffered += read
  }
}

function end (pair: Pair, error?: string): void {
  for (const d of pair.directions) { closeFd(d.pipe[0]); closeFd(d.pipe[1]) }
  pairs.delete(pair.id)
  const message: RelayEnded = { type: 'ended', id: pair.id, ...(error === undefined ? {} : { error }) }
  parentPort?.postMessage(message)
}

function takeCommands (): void {
  for (let received = receiveMessageOnPort(port); received !== undefined; received = receiveMessageOnPort(port)) {
    const command = received.message as RelayCommand
    if (command.type === 'join') {
      const pair: Pair = { id: command.id, directions: [direction(command.client, command.service), direction(command.service, command.client)] }
      pairs.set(pair.id, pair)
      step(pair, pair.directions) // bytes may be waiting already
    } else {
      const pair = pairs.get(command.id)
      if (pair !== undefined) end(pair)
    }
  }
}

function step (pair: Pair, ready: readonly Direction[]): void {
  try {
    for (const d of ready) advance(d)
  } catch (error) {
    end(pair, error instanceof SyscallError ? error.errnoName : String(error))
    return
  }
  if (pair.directions.every((d) => d.shut)) end(pair)
}

for (;;) {
  takeCommands()
  // Each direction waits either to write what it holds or to read more.
  const waiting: Array<{ pair: Pair, d: Direction }> = []
  for (const pair of pairs.values()) {
    for (const d of pair.directions) if (!d.shut) waiting.push({ pair, d })
  }
  const fds = Buffer.alloc(POLLFD_SIZE * (waiting.length + 1))
  fds.writeInt32LE(wakeFd, 0)
  fds.writeInt16LE(POLLIN, 4)
  waiting.forEach(({ d }, index) => {
    const offset = POLLFD_SIZE * (index + 1)
    fds.writeInt32LE(d.buffered > 0 ? d.to : d.from, offset)
    fds.writeInt16LE(d.buffered > 0 ? POLLOUT : POLLIN, offset + 4)
  })
  pollFds(fds, waiting.length + 1, POLL_TIMEOUT_MS)
  if (fds.readInt16LE(6) !== 0) drainFd(wakeFd)
  const ready = new Map<Pair, Direction[]>()
  waiting.forEach(({ pair, d }, index) => {
    if (fds.readInt16LE(POLLFD_SIZE * (index + 1) + 6) === 0) return
    ready.set(pair, [...(ready.get(pair) ?? []), d])
  })
  for (const [pair, directions] of ready) if (pairs.has(pair.id)) step(pair, directions)
}
