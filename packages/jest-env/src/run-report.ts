/**
 * `report: true | 'json'`: the run report. Each sandbox's side-effect report (core's,
 * read once the sandbox has ended) is kept with the test files it ran; after the run,
 * they become ns-sandbox-report.json in Jest's rootDir, and with `true` a short
 * summary on stderr, worst first. With isolation 'worker' a lane's sandbox runs many
 * files, so its report is one entry listing them all: what one of them did cannot be
 * told from what the others did.
 */
import type { Core } from './core'
import type { Plan } from './plan'
import type { SandboxChild, SandboxEnd } from './sandbox-child'

type RunReportEntry = import('@ns-sandbox/core').RunReportEntry
type RunReportOption = import('@ns-sandbox/core').RunReportOption

interface Ran {
  option: RunReportOption
  project: string | undefined
  files: string[]
}

function projectOf (plan: Plan): string | undefined {
  const name = plan.test.context.config.displayName
  return typeof name === 'string' ? name : name?.name
}

export class RunReport {
  private readonly ran = new WeakMap<SandboxChild, Ran>()
  private readonly entries: RunReportEntry[] = []
  private option: RunReportOption = false

  constructor (private readonly core: Core, private readonly root: string) {}

  /** `child` runs `plan`'s file. */
  running (child: SandboxChild, plan: Plan): void {
    if (plan.options.report === false) return
    const ran = this.ran.get(child) ?? { option: plan.options.report, project: projectOf(plan), files: [] }
    ran.files.push(plan.test.path)
    this.ran.set(child, ran)
  }

  /** `child`'s sandbox ended: keep its report (once). */
  ended (child: SandboxChild | undefined, end: SandboxEnd | undefined): void {
    const ran = child === undefined ? undefined : this.ran.get(child)
    const report = end?.result?.report
    if (child === undefined || ran === undefined || report === undefined) return
    this.ran.delete(child)
    this.entries.push({ testFiles: ran.files, ...(ran.project === undefined ? {} : { project: ran.project }), report })
    this.option = this.core.strongerRunReportOption(this.option, ran.option)
  }

  /** After the run: write the file and print (nothing when no sandbox asked for a report). */
  emit (): void {
    if (this.entries.length === 0) return
    this.core.emitRunReport({
      option: this.option,
      tool: 'jest',
      root: this.root,
      entries: this.entries,
      print: (text) => { process.stderr.write(text) }
    })
  }
}
