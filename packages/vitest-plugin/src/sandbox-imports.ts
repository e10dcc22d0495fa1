/**
 * Modules only the sandbox has. Vitest's worker asks the main process for every module
 * it imports (`fetch`: resolve and transform), and the main process reads the host's
 * files: a module a test file wrote into its own /tmp (or anywhere in its copy-on-write
 * view) and then imports is "not found" there. So the pool follows the worker's `fetch`
 * calls, and when the main process answers one for a file path with "not found", the
 * answer becomes an externalized module: Vitest's worker then loads it with Node's own
 * `import()`, inside the sandbox, where the file is. The host never reads the file.
 *
 * Such a module is not transformed by Vite: plain JavaScript loads as it would with
 * Node, TypeScript only where Node strips types itself; `vi.mock` does not apply to it.
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'

interface RpcRequest { t: 'q', m: string, a: unknown[], i?: string }
interface RpcResponse { t: 's', i: string, r?: unknown, e?: unknown }

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

/** A birpc call from the worker that waits for an answer. */
function asFetchRequest (message: unknown): RpcRequest | undefined {
  if (!isRecord(message) || message.t !== 'q' || message.m !== 'fetch' || typeof message.i !== 'string' || !Array.isArray(message.a)) return undefined
  return message as unknown as RpcRequest
}

function asResponse (message: unknown): RpcResponse | undefined {
  if (!isRecord(message) || message.t !== 's' || typeof message.i !== 'string') return undefined
  return message as unknown as RpcResponse
}

/** The file URL a `fetch` of `id` from `importer` means, when it names a file by its path. */
export function fileUrlOf (id: unknown, importer: unknown): string | undefined {
  if (typeof id !== 'string') return undefined
  if (id.startsWith('file://')) return id
  const queryAt = id.search(/[?#]/)
  const [file, query] = queryAt === -1 ? [id, ''] : [id.slice(0, queryAt), id.slice(queryAt)]
  let absolute: string | undefined
  if (file.startsWith('/@fs/')) absolute = file.slice('/@fs'.length)
  else if (file.startsWith('/') && !file.startsWith('/@')) absolute = file
  else if ((file.startsWith('./') || file.startsWith('../')) && typeof importer === 'string' && path.isAbsolute(importer)) {
    absolute = path.resolve(path.dirname(importer), file)
  }
  return absolute === undefined ? undefined : pathToFileURL(absolute).href + query
}

/** Vite's and Node's ways of saying that a file does not exist (not: it failed to compile). */
export function isNotFound (error: unknown): boolean {
  if (!isRecord(error)) return false
  const code = error.code
  if (code === 'ERR_LOAD_URL' || code === 'ENOENT' || code === 'ERR_MODULE_NOT_FOUND') return true
  const message = typeof error.message === 'string' ? error.message : ''
  return /^Failed to load url |^Cannot find module '|ENOENT: no such file or directory/.test(message)
}

export class SandboxImports {
  /** Open `fetch` calls by birpc id: the file URL each asked for. */
  private readonly open = new Map<string, string>()

  /** A message from the worker to the main process. */
  noteRequest (message: unknown): void {
    const request = asFetchRequest(message)
    if (request?.i === undefined) return
    const url = fileUrlOf(request.a[0], request.a[1])
    if (url !== undefined) this.open.set(request.i, url)
  }

  /** A message from the main process to the worker, or the answer to send instead. */
  rewrite (message: unknown): unknown {
    const response = asResponse(message)
    if (response === undefined) return message
    const url = this.open.get(response.i)
    if (url === undefined) return message
    this.open.delete(response.i)
    if (!isNotFound(response.e)) return message
    return { t: 's', i: response.i, r: { externalize: url, type: 'module' } }
  }
}
