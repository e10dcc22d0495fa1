/** `ns-sandbox run [options] -- <command> [args...]` */
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { SandboxError } from '../errors.js'
import { directoryProblem } from '../fs-util/path-problem.js'
import { planSandbox, spawnSandbox } from '../host/spawn.js'
import type { SpawnSandboxOptions } from '../host/spawn-options.js'
import type { SandboxOptions } from '../options/schema.js'
import { formatReport } from '../report/summary.js'
import type { SideEffectReport } from '../report/types.js'

export const RUN_HELP = `Usage: ns-sandbox run [options] -- <command> [args...]

Identity and namespaces
  --root                 uid 0 inside, with the namespace's capabilities (default: your uid, no capabilities)
  --hostname <name>      host name inside (default: ns-sandbox)
  --network <mode>       loopback (default: own namespace, lo up) | none | host
  --forward <[host:]port>  make a host loopback service reachable at the same port inside (repeatable)
Filesystem
  --rootfs <spec>        host (default: copy-on-write view of the host) | a directory | an archive | an imported name
  --readonly             host view read-only instead of copy-on-write
  --bind <src[:dst[:ro]]>  extra bind mount (repeatable; a ':' in a path is written '\\:')
  --writable <path>      host path kept live, read-write (repeatable)
  --mask <path>          path hidden inside, added to the default credential list (repeatable; ~ is $HOME and your passwd home)
  --no-mask              drop the default credential list (with --mask: hide only those paths)
  --cwd <dir>            working directory (default: the current one)
  --scratch-dir <dir>    where overlay layers are kept while the sandbox runs
  --tmpfs-size <size>    size limit of each tmpfs the sandbox writes to: /tmp, /run, /var/tmp, /dev/shm, the copy-on-write layers (default 1GiB)
Limits
  --memory <size>        e.g. 512MiB (no swap beyond it)
  --pids <n>             maximum tasks
  --cpus <n>             CPU bandwidth in cores, e.g. 1.5
  --timeout <duration>   e.g. 30s, 2m
Output
  --dry-run              print the mount plan and launch command; start nothing
  --json                 print the result as JSON on stderr when the command ends
  --report               list what the sandbox changed and left running, on stderr when the command ends
  --report-json <file>   write that report as JSON to <file>
  --report-ignore <glob> leave matching paths out of the report (repeatable; e.g. '~/.cache/**', '*.log')

Exit status: the command's; 128+N when a signal N ended it; 125 when the sandbox could not start.`

const OPTIONS = {
  root: { type: 'boolean' },
  hostname: { type: 'string' },
  network: { type: 'string' },
  forward: { type: 'string', multiple: true },
  rootfs: { type: 'string' },
  readonly: { type: 'boolean' },
  bind: { type: 'string', multiple: true },
  writable: { type: 'string', multiple: true },
  mask: { type: 'string', multiple: true },
  'no-mask': { type: 'boolean' },
  cwd: { type: 'string' },
  'scratch-dir': { type: 'string' },
  'tmpfs-size': { type: 'string' },
  memory: { type: 'string' },
  pids: { type: 'string' },
  cpus: { type: 'string' },
  timeout: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  report: { type: 'boolean' },
  'report-json': { type: 'string' },
  'report-ignore': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' }
} as const

interface Io { stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream }

function parsePids (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  // Leave validation (and its message) to the options schema.
  return /^\d+$/.test(value) ? Number(value) : Number.NaN
}

export interface RunArguments {
  options: SpawnSandboxOptions
  dryRun: boolean
  json: boolean
  help: boolean
  /** Print the side-effect report's summary on stderr. */
  reportSummary: boolean
  /** Write the side-effect report as JSON here. */
  reportJson: string | undefined
}

export function parseRunArguments (argv: string[]): RunArguments {
  const separator = argv.indexOf('--')
  const optionArgs = separator < 0 ? argv : argv.slice(0, separator)
  let parsed
  try {
    parsed = parseArgs({ args: optionArgs, options: OPTIONS, allowPositionals: separator < 0, strict: true })
  } catch (error) {
    throw new SandboxError('NSB_INVALID_OPTION', `${(error as Error).message}; see \`ns-sandbox run --help\``)
  }
  const { values, positionals } = parsed
  const commandLine = separator < 0 ? positionals : argv.slice(separator + 1)
  const sandbox: SandboxOptions = {
    root: values.root,
    hostname: values.hostname,
    network: values.network as SandboxOptions['network'],
    rootfs: values.rootfs,
    readonly: values.readonly,
    bind: values.bind,
    writable: values.writable,
    mask: values.mask,
    defaultMask: values['no-mask'] === true ? false : undefined,
    memory: values.memory,
    pids: parsePids(values.pids),
    cpus: values.cpus,
    timeout: values.timeout,
    scratchDir: values['scratch-dir'],
    tmpfsSize: values['tmpfs-size'],
    forward: values.forward,
    report: values.report === true || values['report-json'] !== undefined ? true : undefined,
    reportIgnore: values['report-ignore']
  }
  const [command, ...args] = commandLine
  if (values.help !== true && command === undefined) {
    throw new SandboxError('NSB_INVALID_OPTION', 'no command given: ns-sandbox run [options] -- <command> [args...]')
  }
  return {
    options: { ...sandbox, command, args, cwd: values.cwd, stdio: 'inherit' },
    dryRun: values['dry-run'] === true,
    json: values.json === true,
    help: values.help === true,
    reportSummary: values.report === true,
    reportJson: values['report-json']
  }
}

/** Refuse, before anything runs, a --report-json file that could not be written. */
function checkReportTarget (file: string): void {
  const dir = path.dirname(path.resolve(file))
  const problem = directoryProblem(dir, fs.constants.W_OK, 'is not writable by you')
  if (problem !== undefined) throw new SandboxError('NSB_INVALID_OPTION', `option \`report-json\`: cannot write ${file}: ${dir} ${problem}`)
}

/** Write the JSON report; on failure say so and put the report on stderr, so it is not lost. */
function writeReport (file: string, report: SideEffectReport, io: Io): boolean {
  const json = JSON.stringify(report, null, 2) + '\n'
  try {
    fs.writeFileSync(file, json)
    return true
  } catch (error) {
    io.stderr.write(`ns-sandbox: cannot write the report to ${file}: ${(error as Error).message}; here it is instead:\n${json}`)
    return false
  }
}

export async function runRunCommand (argv: string[], io: Io): Promise<number> {
  const { options, dryRun, json, help, reportSummary, reportJson } = parseRunArguments(argv)
  if (help) {
    io.stdout.write(RUN_HELP + '\n')
    return 0
  }
  if (dryRun) {
    // The whole launch: the chain's argv, the mount plan, the init's and the bootstrap's
    // configuration (cgroup files are made only by a real start), the report's context.
    const { options: resolved, launch, plan, init, config, report } = await planSandbox(options)
    const { plan: _samePlan, ...initRest } = init
    io.stdout.write(JSON.stringify({ options: resolved, launch, plan, init: initRest, config, report }, null, 2) + '\n')
    return 0
  }
  if (reportJson !== undefined) checkReportTarget(reportJson)
  const sandbox = await spawnSandbox(options)
  // A terminal delivers SIGINT/SIGQUIT to the sandbox itself (same process group);
  // other signals are forwarded to the command.
  const forwarded: NodeJS.Signals[] = process.stdin.isTTY === true ? ['SIGTERM', 'SIGHUP'] : ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT']
  const forward = (signal: NodeJS.Signals): void => { sandbox.kill(signal) }
  const ignore = (): void => {}
  for (const signal of forwarded) process.on(signal, forward)
  if (process.stdin.isTTY === true) { process.on('SIGINT', ignore); process.on('SIGQUIT', ignore) }
  try {
    const result = await sandbox.result
    if (json) io.stderr.write(JSON.stringify(result) + '\n')
    if (result.report !== undefined) {
      if (reportSummary) io.stderr.write(formatReport(result.report))
      if (reportJson !== undefined && !writeReport(reportJson, result.report, io)) return result.code === 0 ? 1 : (result.code ?? 1)
    }
    if (result.message !== undefined) io.stderr.write(`ns-sandbox: ${result.message}\n`)
    if (result.signal !== null) {
      const { constants } = await import('node:os')
      return 128 + (constants.signals[result.signal] ?? 0)
    }
    return result.code ?? 1
  } finally {
    for (const signal of forwarded) process.off(signal, forward)
    process.off('SIGINT', ignore)
    process.off('SIGQUIT', ignore)
  }
}
