/**
 * Relays for an exec'd command: the bootstrap opens the listening sockets (so they
 * accept from the command's first instruction), hands them to a small Node process as
 * fds 3.., then execs the command. The relay's code comes on stdin (`node -`): it was
 * read before pivot_root, so no file of ours has to be visible inside. Detached (its own
 * session: a terminal's ^C is not for it); it ends with the sandbox's PID namespace.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type net from 'node:net'
import type { RelayTarget } from '../protocol.js'
import { listenRelays } from './relay.js'
import { RELAY_MARK } from './spec.js'

function descriptorOf (server: net.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new Error('cannot pass a listening socket to the relay process')
  return fd
}

/** Resolves once the relay process has its sockets and its code. */
export async function startRelayProcess (targets: readonly RelayTarget[], source: string): Promise<void> {
  const servers = await listenRelays(targets, undefined)
  const args = targets.map((target, index) => `${3 + index}=${target.socket}`)
  const child = spawn(process.execPath, ['-', RELAY_MARK, ...args], {
    stdio: ['pipe', 'ignore', 'ignore', ...servers.map(descriptorOf)],
    detached: true,
    env: {} // nothing of the test's NODE_OPTIONS
  })
  const stdin = child.stdin
  if (stdin === null) throw new Error('the relay process has no stdin')
  stdin.end(source)
  await Promise.race([once(stdin, 'finish'), once(child, 'error').then(([error]) => { throw error })])
  child.unref()
}
