/**
 * `report: true | 'json'`: the run report. Every sandbox a pool worker takes (pre-spawned
 * or not) is tracked with the test files it ran; when the run ends, their side-effect
 * reports (read by core once each sandbox has ended) become ns-sandbox-report.json in
 * Vitest's root, and with `true` a short summary on stderr.
 *
 * The end of a run is a reporter's `onTestRunEnd`: the plugin adds one to
 * `vitest.config.reporters` in `configureVitest`, which Vitest 4 and 5 run before they
 * create the reporters. Vitest does not wait for its workers to stop before that hook,
 * so it waits for the sandboxes itself. With `isolate: false` a sandbox outlives the run
 * (Vitest keeps the worker for the next one, until it closes): `vitest run` then reports
 * when Vitest closes, watch mode reports such sandboxes when they end.
 */
import {
  emitRunReport, strongerRunReportOption, type RunReportEntry, type RunReportOption, type Sandbox
} from '@ns-sandbox/core'
import type { TestProject, Vitest } from 'vitest/node'

interface Tracked {
  option: RunReportOption
  /** Its sandbox outlives the run (`isolate: false`). */
  shared: boolean
  ended: boolean
  entry: Promise<RunReportEntry | undefined>
}

/** How long the end of a run waits for its sandboxes to end and be read. */
const MAX_WAIT_MS = 60_000
/**
 * Leftover processes and ports are listed by the sandbox's PID 1 once its command ends by
 * itself; a sandbox ended with SIGKILL has none to list. So with a report, a stopped worker
 * gets SIGTERM first, and this long to go.
 */
const TERM_GRACE_MS = 2000

class RunReport {
  private tracked: Tracked[] = []
  private queue: Promise<void> = Promise.resolve()
  readonly reporter = { onTestRunEnd: async (): Promise<void> => { await this.enqueue(() => this.runEnded()) } }

  constructor (private readonly vitest: Vitest) {
    vitest.onClose(() => this.enqueue(() => this.flush(this.tracked)))
  }

  /** A worker's sandbox; `files` are read when it ends (a shared worker runs more files meanwhile). */
  track (project: TestProject, option: RunReportOption, sandbox: Sandbox, files: () => readonly string[]): void {
    const tracked: Tracked = {
      option,
      shared: project.config.isolate === false,
      ended: false,
      entry: sandbox.result.then(
        (result) => result.report === undefined ? undefined : { testFiles: [...files()], project: project.name, report: result.report },
        () => undefined // a sandbox that could not start has nothing to report; the worker said why
      ).finally(() => { tracked.ended = true })
    }
    this.tracked.push(tracked)
  }

  private enqueue (step: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(step, step)
    return this.queue
  }

  private async runEnded (): Promise<void> {
    const own = this.tracked.filter((t) => !t.shared)
    await waitFor(own.map((t) => t.entry), MAX_WAIT_MS)
    const sharedRunning = this.tracked.some((t) => t.shared && !t.ended)
    if (sharedRunning && this.vitest.config.watch !== true) return // all of it when Vitest closes
    await this.flush(this.tracked.filter((t) => t.ended))
  }

  private async flush (chosen: Tracked[]): Promise<void> {
    if (chosen.length === 0) return
    await waitFor(chosen.map((t) => t.entry), MAX_WAIT_MS)
    const done = chosen.filter((t) => t.ended)
    this.tracked = this.tracked.filter((t) => !done.includes(t))
    const entries = (await Promise.all(done.map((t) => t.entry))).filter((e): e is RunReportEntry => e !== undefined)
    if (entries.length === 0) return
    const option = done.reduce<RunReportOption>((strongest, t) => strongerRunReportOption(strongest, t.option), false)
    const errorStream = this.vitest.logger.errorStream
    emitRunReport({ option, tool: 'vitest', root: this.vitest.config.root, entries, print: (text) => { errorStream.write(text) } })
  }
}

async function waitFor (pending: ReadonlyArray<Promise<unknown>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  await Promise.race([Promise.all(pending), timeout])
  clearTimeout(timer)
}

const reports = new WeakMap<Vitest, RunReport>()

function runReportOf (vitest: Vitest): RunReport {
  let report = reports.get(vitest)
  if (report === undefined) {
    report = new RunReport(vitest)
    reports.set(vitest, report)
  }
  return report
}

/** From `configureVitest`: a project of this Vitest asked for the run report. */
export function attachRunReport (vitest: Vitest): void {
  const { reporter } = runReportOf(vitest)
  const reporters = vitest.config.reporters as unknown[]
  if (!reporters.includes(reporter)) reporters.push(reporter)
}

export function trackSandbox (project: TestProject, option: RunReportOption, sandbox: Sandbox, files: () => readonly string[]): void {
  if (option !== false) runReportOf(project.vitest).track(project, option, sandbox, files)
}

/** Stop a worker's sandbox so that its report can list what it left running (see TERM_GRACE_MS). */
export function endForReport (sandbox: Sandbox): void {
  sandbox.kill('SIGTERM')
  const timer = setTimeout(() => { sandbox.destroy() }, TERM_GRACE_MS)
  timer.unref()
  void sandbox.result.catch(() => undefined).then(() => { clearTimeout(timer) })
}
