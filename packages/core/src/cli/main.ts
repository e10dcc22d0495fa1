#!/usr/bin/env node
/** `ns-sandbox run | doctor | rootfs`. */
import { SandboxError } from '../errors.js'
import { runDoctorCommand } from './doctor-command.js'
import { runRunCommand } from './run-command.js'

const USAGE = `Usage:
  ns-sandbox run [options] -- <command> [args...]   run a command in a sandbox
  ns-sandbox doctor                                  check this machine's prerequisites
  ns-sandbox rootfs import|ls|rm|prune ...           manage root filesystems from archives

Run \`ns-sandbox run --help\` for the sandbox options.`

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const io = { stdout: process.stdout, stderr: process.stderr }
  switch (command) {
    case 'run':
      return await runRunCommand(rest, io)
    case 'doctor':
      return runDoctorCommand(rest, io)
    case 'rootfs': {
      const { runRootfsCommand } = await import('./rootfs-command.js')
      return await runRootfsCommand(rest, io)
    }
    case undefined:
    case '-h':
    case '--help':
      io.stdout.write(USAGE + '\n')
      return command === undefined ? 2 : 0
    default:
      io.stderr.write(`ns-sandbox: unknown command '${command}'\n${USAGE}\n`)
      return 2
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (error: unknown) => {
  process.stderr.write(error instanceof SandboxError ? `ns-sandbox: ${error.describe()}\n` : `ns-sandbox: ${(error as Error).stack ?? String(error)}\n`)
  process.exitCode = error instanceof SandboxError ? 125 : 1
})
