/**
 * A file whose sandbox was ended by a limit never reports its own end, so Vitest's
 * reporters would only show the worker error (Vitest 4's JSON reporter even lists
 * the file as passed). The limit is recorded on the file's own result, through
 * Vitest's state API, so every reporter shows that file failed and why.
 */
import type { TestProject } from 'vitest/node'

interface FileTask {
  projectName?: string
  result?: { state?: string, errors?: Array<{ name?: string, message: string, stack?: string }> }
}

export function failFiles (project: TestProject, files: readonly string[], message: string): void {
  if (files.length === 0) return
  let tasks: FileTask[]
  try {
    tasks = project.vitest.state.getFiles([...files]) as unknown as FileTask[]
  } catch {
    return // the state API is experimental: without it, the worker error still fails the run
  }
  for (const task of tasks) {
    if ((task.projectName ?? '') !== project.name) continue
    const result = task.result ?? {}
    result.state = 'fail'
    result.errors = [...result.errors ?? [], { name: 'SandboxLimitError', message, stack: `SandboxLimitError: ${message}` }]
    task.result = result
  }
}
