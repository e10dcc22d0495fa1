/** @ns-sandbox/core: the public API. Adapters use this and nothing else. */
export { SandboxError, isSandboxError, type SandboxErrorCode } from './errors.js'
export {
  DEFAULT_MASK, resolveOptions, defaultScratchDir,
  type SandboxOptions, type ResolvedOptions, type NetworkMode, type BindSpec, type ResolvedBind
} from './options/schema.js'
export { parseByteSize, formatByteSize, parseDuration } from './options/units.js'
export { Sandbox, type SandboxResult, type ResetResult } from './host/sandbox.js'
export { spawnSandbox, runSandbox, planSandbox, type PreparedSandbox } from './host/spawn.js'
export { pickSandboxOptions, type SpawnSandboxOptions, type StdioEntry } from './host/spawn-options.js'
export type { KillReason } from './host/exit-status.js'
export type { CgroupUsage, CgroupLimits } from './host/cgroups/index.js'
export { FRESH_AREAS, type MountStep } from './plan/mount-plan.js'
export { hiddenModuleRoots, type ModuleRootsConfig, type ReadonlyBind } from './host/module-roots.js'
export type {
  SideEffectReport, FileChange, ChangeKind, ReportArea, EntryType, LeftoverProcess, ListeningSocket
} from './report/types.js'
export { formatReport } from './report/summary.js'
export {
  RUN_REPORT_FILE, RUN_REPORT_VERSION, checkRunReportOption, strongerRunReportOption, buildRunReport, formatRunSummary,
  formatRunReportLine, countChanges, severity,
  type RunReportOption, type RunReportEntry, type RunReportDocument, type RunReportSandbox, type RunReportCounts, type RunSummaryLimits
} from './report/run-summary.js'
export { emitRunReport, type EmitRunReportInput } from './report/run-output.js'
export type { ForwardSpec } from './forward/spec.js'
export { runAllChecks, type CheckResult } from './doctor/checks.js'
export { diagnoseLaunchFailure } from './host/diagnose.js'
