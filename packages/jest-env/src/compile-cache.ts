/**
 * Compiled code kept on disk across sandboxes (Node >= 22.1: module.enableCompileCache).
 * Every sandbox is a fresh process that loads Jest and babel again; the cache lives in
 * the project's cacheDirectory, which is live in every sandbox, so later sandboxes start
 * from it. Node 20 has no such cache (v8-compile-cache, V8 code cache through vm.Script,
 * was tried: no measurable gain on this suite), so nothing happens there.
 */
import Module from 'node:module'
import path from 'node:path'

interface NodeCompileCache {
  enableCompileCache?: (dir: string) => unknown
  flushCompileCache?: () => void
}

const node = Module as unknown as NodeCompileCache

export function enableCompileCache (cacheDirectory: string): void {
  try {
    node.enableCompileCache?.(path.join(cacheDirectory, 'ns-sandbox-compile-cache'))
  } catch {
    // a cache is an optimization only
  }
}

/** Before process.exit: Node writes the cache at exit too, but not on every exit path. */
export function flushCompileCache (): void {
  try {
    node.flushCompileCache?.()
  } catch {
    // as above
  }
}
