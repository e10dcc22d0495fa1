/**
 * PID 1's configuration as bytes (read by inside/init.pl, which loads no modules and so
 * parses no JSON): a 10-digit byte length, then NUL-terminated tokens. A key and its
 * value(s); `step` is followed by the op and a fixed number of fields per op. Paths may
 * hold any byte but NUL, which no path can hold.
 */
import type { BootstrapConfig, InitConfig } from '../protocol.js'
import type { MountStep } from '../plan/mount-plan.js'

const flag = (value: boolean | undefined): string => value === true ? '1' : ''

/** The fields of each step in the order init.pl reads them (its %STEP_FIELDS gives the counts). */
function stepFields (step: MountStep): string[] {
  switch (step.op) {
    case 'mkdir': return [step.path, step.mode ?? '']
    case 'file': return [step.path]
    case 'symlink': return [step.linkTarget, step.path]
    case 'tmpfs': return [step.target, step.mode, flag(step.readonly), String(step.size)]
    case 'overlay': return [step.lower, step.upper, step.work, step.target]
    case 'bind': return [step.source, step.target, flag(step.readonly)]
    case 'proc': return [step.target]
    case 'devpts': return [step.target]
    case 'sysfs': return [step.target, flag(step.fresh)]
  }
}

/** 10 digits of byte length, then the bytes: both parts of the configuration are framed so. */
function framed (body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(String(body.length).padStart(10, '0')), body])
}

/**
 * The bootstrap's part, after the init's on the same fd: framed, not read to EOF, so the
 * host may keep its side open (a resettable sandbox's init reads commands there).
 */
export function encodeBootstrapConfig (config: BootstrapConfig): Buffer {
  return framed(Buffer.from(JSON.stringify(config)))
}

export function encodeInitConfig (config: InitConfig): Buffer {
  const tokens: string[] = [
    'arch', config.arch,
    'root', config.rootDir,
    'hostname', config.hostname,
    'network', config.network,
    'caps', config.keepCapabilities ? 'keep' : 'drop',
    'lastcap', String(config.lastCapability),
    'report', flag(config.report),
    'reset', flag(config.resettable),
    'layers', config.layersDir,
    ...config.cgroupProcs.flatMap((file) => ['cgroup', file]),
    ...config.restoreEnv.flatMap(([name, value]) => ['env', name, value]),
    ...config.plan.flatMap((step) => ['step', step.op, ...stepFields(step)])
  ]
  for (const token of tokens) {
    if (token.includes('\0')) throw new Error(`a NUL byte cannot cross to the sandbox's init: ${JSON.stringify(token)}`)
  }
  return framed(Buffer.from(tokens.map((token) => token + '\0').join('')))
}
