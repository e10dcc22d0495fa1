/**
 * The sandbox's end of `forward`: a listening socket on host:port of the sandbox's own
 * loopback, handed to the host over the IPC channel (SCM_RIGHTS). A socket keeps the
 * network namespace it was made in, so the host accepts the sandbox's connections
 * itself and joins each to the service: one copying hop, and nothing of ours runs in
 * the sandbox after the handover.
 */
import { once } from 'node:events'
import type net from 'node:net'
import { forwardMessage, type ForwardSpec } from './spec.js'

type Send = (message: unknown, handle: net.Server, callback: (error: Error | null) => void) => boolean

async function listen (spec: ForwardSpec): Promise<net.Server> {
  // Loaded here, not with the bootstrap: node:net costs ~5 ms to load, and most sandboxes have no forwards.
  const { createServer } = await import('node:net')
  const server = createServer()
  server.listen({ host: spec.host, port: spec.port })
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => { throw error })])
  return server
}

/**
 * Listen for every forward and pass each socket to the host; this process keeps no copy.
 * Without `keepChannel` (the caller asked for no IPC channel) the channel is closed after.
 */
export async function passListenersToHost (specs: readonly ForwardSpec[], options: { keepChannel: boolean }): Promise<void> {
  const send = process.send as Send | undefined
  if (send === undefined) throw new Error('no IPC channel to the host')
  for (const [index, spec] of specs.entries()) {
    const server = await listen(spec)
    await new Promise<void>((resolve, reject) => {
      send.call(process, forwardMessage(index), server, (error) => { if (error === null) resolve(); else reject(error) })
    })
    server.close()
  }
  if (!options.keepChannel) await closeChannel()
}

/** Close the channel and leave no trace of it: code that checks `process.send` must see a process without one. */
async function closeChannel (): Promise<void> {
  const disconnected = once(process, 'disconnect')
  process.disconnect?.()
  await disconnected
  const channelApi = process as { send?: unknown, disconnect?: unknown }
  delete channelApi.send
  delete channelApi.disconnect
}
