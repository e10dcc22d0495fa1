/**
 * Last step before test code: no capabilities, no privilege gain through exec.
 * Capabilities are per thread. Threads started later (libuv pool, workers, children)
 * copy the main thread's empty sets; V8's platform threads, started before this ran,
 * keep the namespace's set but never run user code. An exec'd command has none at all.
 */
import { dropAllCapabilities, setNoNewPrivs } from '../ffi/libc.js'

export function dropPrivileges (keepCapabilities: boolean, lastCapability: number): void {
  if (!keepCapabilities) dropAllCapabilities(lastCapability)
  setNoNewPrivs()
}
