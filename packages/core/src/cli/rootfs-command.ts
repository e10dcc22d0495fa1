/** `ns-sandbox rootfs import | ls | rm | prune`: the rootfs cache from the command line. */
import { parseArgs } from 'node:util'
import cliProgress from 'cli-progress'
import { SandboxError } from '../errors.js'
import { formatByteSize, parseByteSize } from '../options/units.js'
import { importRootfs, listRootfs, pruneRootfs, removeRootfs } from '../rootfs/index.js'
import type { RootfsEntry, RootfsImportOptions } from '../rootfs/index.js'

interface Io { stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream }

const HELP = `Usage:
  ns-sandbox rootfs import <archive> [--name N] [--image-ref REF] [--cache-dir D]
                           [--max-bytes SIZE] [--max-entries N] [--allow-setuid] [--json]
      unpack a tar, tar.gz, tar.zst, OCI image layout or docker save archive into the cache
      (a re-import of the same bytes is a cache hit) and print its digest and directory
  ns-sandbox rootfs ls [--cache-dir D] [--json]      list imported root filesystems
  ns-sandbox rootfs rm <name|digest>... [--cache-dir D]
      remove a name (and its entry when no other name points at it), or an entry by digest
  ns-sandbox rootfs prune [--cache-dir D]
      remove entries no name points at and what interrupted imports left behind

The cache lives in $XDG_CACHE_HOME/ns-sandbox/rootfs (default ~/.cache/ns-sandbox/rootfs).`

const OPTIONS = {
  name: { type: 'string' },
  'image-ref': { type: 'string' },
  'cache-dir': { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-entries': { type: 'string' },
  'allow-setuid': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

/** Show a progress bar only for imports that last longer than this. */
const PROGRESS_DELAY_MS = 300

class UsageError extends Error {}

function usage (message: string): UsageError {
  return new UsageError(`${message}\n${HELP}`)
}

function expectPositionals (positionals: string[], count: number | 'some', what: string): void {
  const extra = count === 'some' ? positionals.length === 0 : positionals.length !== count
  if (extra) throw usage(count === 'some' ? `${what} needs at least one argument` : `${what} takes ${count === 0 ? 'no arguments' : `${count} argument`}`)
}

function isTty (stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WritableStream & { isTTY?: boolean }).isTTY === true
}

export interface ProgressBarOptions {
  /** Draw nothing for imports shorter than this (default 300 ms). */
  delayMs?: number
  /** Clock, for tests. */
  now?: () => number
}

/**
 * onProgress for importRootfs that draws a cli-progress bar on `stream`, only when it is a
 * TTY and only once the import has lasted `delayMs`; `stop` clears it.
 */
export function createProgressBar (stream: NodeJS.WritableStream, options: ProgressBarOptions = {}): { onProgress: RootfsImportOptions['onProgress'], stop: () => void } {
  if (!isTty(stream)) return { onProgress: undefined, stop: () => {} }
  const now = options.now ?? Date.now
  const delay = options.delayMs ?? PROGRESS_DELAY_MS
  const started = now()
  let bar: cliProgress.SingleBar | undefined
  return {
    onProgress: (done, total) => {
      const limit = total ?? done
      const payload = { doneText: formatByteSize(done), totalText: total === undefined ? '?' : formatByteSize(total) }
      if (bar === undefined) {
        if (now() - started < delay) return
        bar = new cliProgress.SingleBar({
          stream,
          format: 'importing [{bar}] {percentage}% {doneText}/{totalText} eta {eta_formatted}',
          clearOnComplete: true,
          hideCursor: true
        }, cliProgress.Presets.shades_classic)
        bar.start(limit, done, payload)
        return
      }
      if (bar.getTotal() !== limit) bar.setTotal(limit)
      bar.update(done, payload)
    },
    stop: () => { bar?.stop() }
  }
}

function shortDigest (digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12)
}

function formatTable (entries: RootfsEntry[]): string {
  const rows = [['DIGEST', 'SIZE', 'IMPORTED', 'NAMES'], ...entries.map((entry) => [
    shortDigest(entry.digest),
    formatByteSize(entry.sizeBytes),
    entry.importedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    entry.names.join(', ') || '-'
  ])]
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? []
  return rows.map((row) => row.map((cell, column) => column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)).join('  ')).join('\n')
}

function parseCount (value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value.replace(/_/g, ''))) throw usage(`--${option} takes a whole number, got ${JSON.stringify(value)}`)
  return Number(value.replace(/_/g, ''))
}

function parseSize (value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  const bytes = parseByteSize(value)
  if (bytes === undefined) throw usage(`--${option} takes a size such as 16GiB or 500MB, got ${JSON.stringify(value)}`)
  return bytes
}

async function run (argv: string[], io: Io): Promise<number> {
  const args = argv[0] === 'rootfs' ? argv.slice(1) : argv
  let parsed
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (error) {
    throw usage((error as Error).message)
  }
  const { values, positionals } = parsed
  const [command, ...rest] = positionals
  if (values.help === true || command === 'help') {
    io.stdout.write(`${HELP}\n`)
    return 0
  }
  const cacheDir = values['cache-dir']
  switch (command) {
    case 'import': {
      expectPositionals(rest, 1, 'rootfs import')
      const warnings: string[] = []
      const progress = createProgressBar(io.stderr)
      const maxBytes = parseSize(values['max-bytes'], 'max-bytes')
      const maxEntries = parseCount(values['max-entries'], 'max-entries')
      const options: RootfsImportOptions = {
        onWarning: (message) => { warnings.push(message) },
        ...(cacheDir === undefined ? {} : { cacheDir }),
        ...(values.name === undefined ? {} : { name: values.name }),
        ...(values['image-ref'] === undefined ? {} : { imageRef: values['image-ref'] }),
        ...(maxBytes === undefined ? {} : { maxBytes }),
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(values['allow-setuid'] === true ? { allowSetuid: true } : {}),
        ...(progress.onProgress === undefined ? {} : { onProgress: progress.onProgress })
      }
      let entry: RootfsEntry
      try {
        entry = await importRootfs(rest[0] as string, options)
      } finally {
        progress.stop()
        for (const message of warnings) io.stderr.write(`ns-sandbox: warning: ${message}\n`)
      }
      if (values.json === true) io.stdout.write(`${JSON.stringify(entry, null, 2)}\n`)
      else io.stdout.write(`${entry.digest} ${formatByteSize(entry.sizeBytes)} ${entry.dir}\n`)
      return 0
    }
    case 'ls':
    case 'list': {
      expectPositionals(rest, 0, 'rootfs ls')
      const entries = await listRootfs(cacheDir)
      if (values.json === true) io.stdout.write(`${JSON.stringify(entries, null, 2)}\n`)
      else if (entries.length > 0) io.stdout.write(`${formatTable(entries)}\n`)
      return 0
    }
    case 'rm':
    case 'remove': {
      expectPositionals(rest, 'some', 'rootfs rm')
      for (const target of rest) {
        await removeRootfs(target, cacheDir)
        io.stdout.write(`removed ${target}\n`)
      }
      return 0
    }
    case 'prune': {
      expectPositionals(rest, 0, 'rootfs prune')
      const removed = await pruneRootfs(cacheDir)
      for (const item of removed) io.stdout.write(`removed ${item}\n`)
      if (removed.length === 0) io.stdout.write('nothing to prune\n')
      return 0
    }
    case undefined:
      throw usage('missing subcommand')
    default:
      throw usage(`unknown subcommand ${JSON.stringify(command)}`)
  }
}

export async function runRootfsCommand (argv: string[], io: { stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream }): Promise<number> {
  try {
    return await run(argv, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`ns-sandbox rootfs: ${error.message}\n`)
      return 2
    }
    if (error instanceof SandboxError) {
      io.stderr.write(`ns-sandbox: ${error.describe()}\n`)
      return 1
    }
    io.stderr.write(`ns-sandbox: ${error instanceof Error ? error.message : String(error)}\n`)
    return 1
  }
}
