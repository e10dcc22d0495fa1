/**
 * The main thread's side of the forward relay: one relay thread per process
 * (splice-worker.ts), started on the first forward, shared by every sandbox. Joins a
 * client socket accepted from a sandbox with a connected service socket; the thread
 * moves the bytes, this side owns and closes the sockets.
 */
import fs from 'node:fs'
import type net from 'node:net'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { koffiAddonPath } from '../ffi/addon-path.js'
import { closeFd, createPipe, loadLibc } from '../ffi/libc.js'
import type { RelayCommand, RelayEnded, SpliceWorkerData } from './splice-protocol.js'

/** Called once when the relay of a pair stopped; `error` is the errno name of a failure. */
type OnEnded = (error: string | undefined) => void

/** Node gives no public way to a socket's descriptor; libuv's handle holds it. */
function descriptorOf (socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no descriptor')
  return fd
}

export class SpliceRelay {
  private static shared: SpliceRelay | undefined
  private readonly pending = new Map<number, OnEnded>()
  private nextId = 0
  private alive = true

  private constructor (private readonly worker: Worker, private readonly port: MessagePort, private readonly wakeFd: number) {
    worker.on('message', (message: RelayEnded) => { this.settle(message.id, message.error) })
    const fail = (): void => {
      this.alive = false
      for (const id of [...this.pending.keys()]) this.settle(id, 'the relay thread ended')
    }
    worker.on('error', fail)
    worker.on('exit', fail)
    worker.unref()
    // A thread blocked in poll(2) would hold the process's exit until its timeout.
    process.on('exit', () => { this.wake() })
  }

  static get (): SpliceRelay {
    if (SpliceRelay.shared?.alive === true) return SpliceRelay.shared
    const koffiAddon = koffiAddonPath()
    loadLibc(koffiAddon)
    const [wakeRead, wakeWrite] = createPipe(4096)
    const { port1, port2 } = new MessageChannel()
    const data: SpliceWorkerData & { port: MessagePort } = { koffiAddon, wakeFd: wakeRead, port: port2 }
    const worker = new Worker(new URL('./splice-worker.js', import.meta.url), { workerData: data, transferList: [port2] })
    worker.once('exit', () => { closeFd(wakeRead); closeFd(wakeWrite) })
    port1.unref()
    SpliceRelay.shared = new SpliceRelay(worker, port1, wakeWrite)
    return SpliceRelay.shared
  }

  /** Relay both ways between two connected sockets this thread will not read or write. Returns the pair's id. */
  join (client: net.Socket, service: net.Socket, onEnded: OnEnded): number {
    const id = this.nextId++
    this.pending.set(id, onEnded)
    this.command({ type: 'join', id, client: descriptorOf(client), service: descriptorOf(service) })
    return id
  }

  /** Stop relaying `id`; its onEnded follows once the thread let go of the sockets. */
  drop (id: number): void {
    this.command({ type: 'drop', id })
  }

  private command (command: RelayCommand): void {
    if (!this.alive) { this.settle(command.id, 'the relay thread ended'); return }
    this.port.postMessage(command)
    this.wake()
  }

  private wake (): void {
    try {
      fs.writeSync(this.wakeFd, Buffer.of(1))
    } catch {
      // a full wake-up pipe already holds a wake-up
    }
  }

  private settle (id: number, error: string | undefined): void {
    const onEnded = this.pending.get(id)
    this.pending.delete(id)
    onEnded?.(error)
  }
}
