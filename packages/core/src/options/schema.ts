/**
 * What a sandbox can be asked to be, validated. Every bad value is refused with a
 * message that names the option and the forms it accepts; nothing is silently dropped.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { SandboxError } from '../errors.js'
import { parseForward, type ForwardSpec } from '../forward/spec.js'
import { BIND_FORMS, splitBindSpec } from './bind-spec.js'
import { accountHome, maskHomes, resolveMask } from './mask.js'
import { parseByteSize, parseDuration } from './units.js'

export { DEFAULT_MASK } from './mask.js'

export type NetworkMode = 'loopback' | 'none' | 'host'

export interface BindSpec { source: string, target?: string, readonly?: boolean }

/** The options a user writes (config file, adapter options, API). */
export interface SandboxOptions {
  /** Map the caller to uid 0 inside and keep the namespace's capabilities. */
  root?: boolean
  hostname?: string
  network?: NetworkMode
  /** `'host'` (default: copy-on-write view of the host), a directory, an archive or an imported name. */
  rootfs?: string
  /** Host filesystem read-only instead of copy-on-write. */
  readonly?: boolean
  /** Extra bind mounts: `src[:dst[:ro|rw]]` strings (a `:` in a path written `\:`) or objects. */
  bind?: Array<string | BindSpec>
  /** Host paths that stay live (read-write bind mounts); they must exist. */
  writable?: string[]
  /**
   * Paths hidden inside (an empty directory or /dev/null), added to DEFAULT_MASK. `~` is
   * every home of the caller: `$HOME` and the account's home from passwd.
   */
  mask?: string[]
  /** Hide DEFAULT_MASK's credential paths (default true). `false` leaves only `mask` (CLI: --no-mask). */
  defaultMask?: boolean
  /** Memory limit, e.g. `512MiB`, `2GiB`, or bytes. No swap beyond it. */
  memory?: string | number
  /** Maximum number of tasks (processes and threads) in the sandbox. */
  pids?: number
  /** CPU bandwidth in cores, e.g. `1.5`. */
  cpus?: number | string
  /** Wall-clock limit, e.g. `30s`, `2m`, or milliseconds; at most 2147483647 ms (~596 h), what a Node timer can wait. */
  timeout?: string | number
  /** Where overlay upper layers and the new root are built. */
  scratchDir?: string
  /**
   * Size limit of each tmpfs the sandbox writes to (/tmp, /run, /var/tmp, /dev/shm, the
   * copy-on-write layers of the host view), e.g. `2GiB`. Default 1GiB (TMPFS_SIZE_DEFAULT).
   */
  tmpfsSize?: string | number
  /** Where imported root filesystems are cached. */
  rootfsCacheDir?: string
  /** After the sandbox ends, list what it changed and left running (`SandboxResult.report`). */
  report?: boolean
  /** Globs of expected changes the report leaves out: absolute, `~/...`, or relative to the project (cwd). */
  reportIgnore?: string[]
  /** Host loopback services reachable at the same port on the sandbox's loopback: `5432`, `'127.0.0.1:8080'`. */
  forward?: Array<number | string>
}

export interface ResolvedBind { source: string, target: string, readonly: boolean }

/** Options after validation, defaults and unit parsing: what the launcher works from. */
export interface ResolvedOptions {
  root: boolean
  hostname: string
  network: NetworkMode
  rootfs: string
  readonly: boolean
  binds: ResolvedBind[]
  writable: string[]
  mask: string[]
  memoryBytes: number | undefined
  pids: number | undefined
  cpus: number | undefined
  timeoutMs: number | undefined
  scratchDir: string
  tmpfsSizeBytes: number
  rootfsCacheDir: string | undefined
  report: boolean
  reportIgnore: string[]
  forwards: ForwardSpec[]
}

const absolutePath = (option: string): z.ZodType<string> => z.string({ error: `option \`${option}\`: expected an absolute path or a path starting with ~/` })
  .refine((value) => value.startsWith('/') || value.startsWith('~/') || value === '~',
    { error: `option \`${option}\`: expected an absolute path or a path starting with ~/` })

const MIN_MEMORY_BYTES = 1024 * 1024

/**
 * Each tmpfs without `size=` may take half the host's RAM, and a sandbox has five of them.
 * 1 GiB each bounds one sandbox to a few GiB; `memory` bounds them all together, since
 * tmpfs pages are charged to the cgroup of the process that writes them.
 */
export const TMPFS_SIZE_DEFAULT = '1GiB'

/** Node's timers hold a signed 32-bit count of ms: a longer timeout would fire after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1

const HOSTNAME = /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/

const bindString = z.string().transform((value, ctx): BindSpec => {
  const parts = splitBindSpec(value)
  if (parts === undefined || parts.length > 3 || (parts.length === 3 && parts[2] !== 'ro' && parts[2] !== 'rw') || parts.some((p) => p === '')) {
    ctx.addIssue({ code: 'custom', message: `option \`bind\`: expected ${BIND_FORMS}, got '${value}'` })
    return z.NEVER
  }
  return { source: parts[0] ?? '', target: parts[1], readonly: parts[2] === 'ro' }
})

const REPORT_IGNORE_ERROR = 'option `reportIgnore`: expected an array of path globs like \'~/.cache/**\' or \'*.log\''
const FORWARD_ERROR = 'option `forward`: expected an array of ports or \'host:port\' strings, like [5432, \'127.0.0.1:6379\']'

const schema = z.object({
  root: z.boolean({ error: 'option `root`: expected true or false' }).optional(),
  hostname: z.string().regex(HOSTNAME, { error: 'option `hostname`: expected a host name of 1-64 letters, digits, dots and dashes (like `box` or `test-1`)' })
    .optional(),
  network: z.enum(['loopback', 'none', 'host'], { error: 'option `network`: expected one of loopback (own namespace, lo up), none (no interfaces), host (the host\'s network)' })
    .optional(),
  rootfs: z.string({ error: 'option `rootfs`: expected \'host\', a directory, an archive path or an imported name' }).min(1).optional(),
  readonly: z.boolean({ error: 'option `readonly`: expected true or false' }).optional(),
  bind: z.array(z.union([bindString, z.object({ source: z.string(), target: z.string().optional(), readonly: z.boolean().optional() }).strict()],
    { error: `option \`bind\`: expected strings ${BIND_FORMS} or objects { source, target?, readonly? }` }),
  { error: 'option `bind`: expected an array' }).optional(),
  writable: z.array(absolutePath('writable'), { error: 'option `writable`: expected an array of absolute paths' }).optional(),
  mask: z.array(absolutePath('mask'), { error: 'option `mask`: expected an array of absolute paths or ~/ paths' }).optional(),
  defaultMask: z.boolean({ error: 'option `defaultMask`: expected true or false (false: mask only the paths in `mask`)' }).optional(),
  // A floor of 1 MiB: `--memory 512` is 512 bytes, a typo that would only show as an instant OOM kill.
  memory: z.union([z.string(), z.number()]).optional().refine((v) => v === undefined || (parseByteSize(v) ?? 0) >= MIN_MEMORY_BYTES,
    { error: 'option `memory`: expected a size of at least 1MiB like 512MiB, 1.5GiB, 300MB (a bare number is bytes)' }),
  pids: z.number({ error: 'option `pids`: expected a whole number of at least 1' }).int({ error: 'option `pids`: expected a whole number of at least 1' })
    .min(1, { error: 'option `pids`: expected a whole number of at least 1' }).optional(),
  cpus: z.union([z.number(), z.string()]).optional().refine((v) => v === undefined || (Number.isFinite(Number(v)) && Number(v) >= 0.01 && String(v).trim() !== ''),
    { error: 'option `cpus`: expected a number of cores of at least 0.01, like 1 or 1.5' }),
  timeout: z.union([z.string(), z.number()]).optional().refine((v) => v === undefined || parseDuration(v) !== undefined,
    { error: 'option `timeout`: expected a duration like 30s, 2m, 500ms or a number of milliseconds' })
    .refine((v) => v === undefined || (parseDuration(v) ?? 0) <= MAX_TIMEOUT_MS,
      { error: `option \`timeout\`: at most ${MAX_TIMEOUT_MS}ms (about 596h, the longest a Node timer can wait); leave it unset for no limit` }),
  scratchDir: absolutePath('scratchDir').optional(),
  tmpfsSize: z.union([z.string(), z.number()]).optional().refine((v) => v === undefined || (parseByteSize(v) ?? 0) >= MIN_MEMORY_BYTES,
    { error: 'option `tmpfsSize`: expected a size of at least 1MiB like 512MiB or 4GiB (a bare number is bytes)' }),
  rootfsCacheDir: absolutePath('rootfsCacheDir').optional(),
  report: z.boolean({ error: 'option `report`: expected true or false' }).optional(),
  reportIgnore: z.array(z.string({ error: REPORT_IGNORE_ERROR }).min(1, { error: REPORT_IGNORE_ERROR }), { error: REPORT_IGNORE_ERROR }).optional(),
  forward: z.array(z.union([z.number(), z.string()], { error: FORWARD_ERROR }), { error: FORWARD_ERROR }).optional()
}).strict()

/** The sandbox's option names, as the schema knows them (spawnSandbox and the adapters pick these). */
export const SANDBOX_OPTION_NAMES: ReadonlyArray<keyof SandboxOptions> = Object.keys(schema.shape) as Array<keyof SandboxOptions>

function expandHome (value: string, home: string): string {
  if (value === '~') return home
  return value.startsWith('~/') ? path.join(home, value.slice(2)) : path.resolve(value)
}

function describeIssue (issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown option ${issue.keys.map((k) => `\`${k}\``).join(', ')}; known options: ${Object.keys(schema.shape).join(', ')}`
  }
  return issue.message
}

/**
 * Scratch (overlay upper layers, the new root) goes on a tmpfs when there is one: on
 * ext4 the dozen mkdirs and overlay mounts of a sandbox take ~10 ms, on tmpfs ~4 ms.
 * $XDG_RUNTIME_DIR is the user's own tmpfs; /dev/shm is on nearly every Linux; the
 * system temp directory is the last resort. Large writes by tests land in memory:
 * set `scratchDir` to a disk directory for suites that write gigabytes.
 */
export function defaultScratchDir (): string {
  const name = `ns-sandbox-${process.getuid?.() ?? 0}`
  const runtimeDir = process.env.XDG_RUNTIME_DIR
  for (const candidate of [runtimeDir, '/dev/shm']) {
    if (candidate === undefined || candidate === '') continue
    try {
      fs.accessSync(candidate, fs.constants.W_OK | fs.constants.X_OK)
      return path.join(candidate, name)
    } catch {
      // not usable by this user
    }
  }
  return path.join(os.tmpdir(), name)
}

/**
 * Validate user options and fill in defaults. Throws NSB_INVALID_OPTION listing every problem.
 * `home` ($HOME) expands `~`; masks cover `account` (the passwd home) too.
 */
export function resolveOptions (options: SandboxOptions = {}, home = os.homedir(), account = accountHome()): ResolvedOptions {
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    const problems = parsed.error.issues.map(describeIssue)
    throw new SandboxError('NSB_INVALID_OPTION', problems.join('; '), { details: problems.length > 1 ? problems : [] })
  }
  const value = parsed.data
  const binds = (value.bind ?? []).map((spec): ResolvedBind => {
    const source = expandHome(spec.source, home)
    return { source, target: expandHome(spec.target ?? spec.source, home), readonly: spec.readonly ?? false }
  })
  for (const bind of binds) {
    if (!path.isAbsolute(bind.source) || !path.isAbsolute(bind.target)) {
      throw new SandboxError('NSB_INVALID_OPTION', `option \`bind\`: paths must be absolute, got ${bind.source}:${bind.target}`)
    }
  }
  const network = value.network ?? 'loopback'
  return {
    root: value.root ?? false,
    hostname: value.hostname ?? 'ns-sandbox',
    network,
    rootfs: value.rootfs ?? 'host',
    readonly: value.readonly ?? false,
    binds,
    writable: (value.writable ?? []).map((p) => expandHome(p, home)),
    mask: resolveMask(value.mask ?? [], value.defaultMask ?? true, maskHomes(home, account)),
    memoryBytes: value.memory === undefined ? undefined : parseByteSize(value.memory),
    pids: value.pids,
    cpus: value.cpus === undefined ? undefined : Number(value.cpus),
    timeoutMs: value.timeout === undefined ? undefined : parseDuration(value.timeout),
    scratchDir: value.scratchDir === undefined ? defaultScratchDir() : expandHome(value.scratchDir, home),
    tmpfsSizeBytes: parseByteSize(value.tmpfsSize ?? TMPFS_SIZE_DEFAULT) ?? 0,
    rootfsCacheDir: value.rootfsCacheDir === undefined ? undefined : expandHome(value.rootfsCacheDir, home),
    report: value.report ?? false,
    reportIgnore: (value.reportIgnore ?? []).map((glob) => glob === '~' || glob.startsWith('~/') ? expandHome(glob, home) : glob),
    forwards: resolveForwards(value.forward ?? [], network)
  }
}

function resolveForwards (values: ReadonlyArray<number | string>, network: NetworkMode): ForwardSpec[] {
  if (values.length === 0) return []
  if (network !== 'loopback') {
    const why = network === 'host' ? 'the sandbox already shares the host\'s network' : 'it has no usable network'
    throw new SandboxError('NSB_INVALID_OPTION', `option \`forward\` needs network 'loopback' (with network '${network}' ${why})`)
  }
  const problems: string[] = []
  const specs: ForwardSpec[] = []
  for (const value of values) {
    const parsed = parseForward(value)
    if (typeof parsed === 'string') problems.push(`option \`forward\`: ${parsed}`)
    else if (specs.some((s) => s.host === parsed.host && s.port === parsed.port)) problems.push(`option \`forward\`: ${parsed.host}:${parsed.port} is listed twice`)
    else specs.push(parsed)
  }
  if (problems.length > 0) throw new SandboxError('NSB_INVALID_OPTION', problems.join('; '), { details: problems.length > 1 ? problems : [] })
  return specs
}
