/** Why did a sandbox fail to start? The doctor's checks say. */
import { checkNetworkNamespace, checkOverlay, checkProc, checkTools, checkUserNamespaces, type CheckResult } from '../doctor/checks.js'
import { SandboxError } from '../errors.js'
import type { LaunchTools } from './tools.js'

function errorFromCheck (check: CheckResult): SandboxError {
  return new SandboxError(check.code ?? 'NSB_SETUP_FAILED', `${check.name}: ${check.summary}`, { details: check.fix ?? [] })
}

/** The first of util-linux and then `checks` that fails, or undefined when all pass. */
function firstFailure (checks: ReadonlyArray<(tools: LaunchTools) => CheckResult>): CheckResult | undefined {
  const { result, tools } = checkTools()
  if (!result.ok || tools === undefined) return result
  for (const check of checks) {
    const outcome = check(tools)
    if (!outcome.ok) return outcome // each check starts processes: stop at the first failure
  }
  return undefined
}

/** The launcher ended before the sandbox started. */
export function diagnoseLaunchFailure (): SandboxError {
  const failure = firstFailure([checkUserNamespaces, checkNetworkNamespace, checkProc, checkOverlay])
  if (failure !== undefined) return errorFromCheck(failure)
  return new SandboxError('NSB_SETUP_FAILED', 'the sandbox launcher exited before the sandbox started (its error is on stderr above)',
    { details: ['`ns-sandbox doctor` found no missing prerequisite; please report this with the output of `ns-sandbox doctor`.'] })
}

/**
 * A mount step failed inside the sandbox. When the doctor finds the prerequisite behind it
 * missing (a fresh /proc, overlayfs in a user namespace), its diagnosis is the error, as
 * `ns-sandbox doctor` prints it, and the step's own failure is kept as the last detail.
 * Otherwise the step's error stands. The probes run only on this failure path.
 */
export function diagnoseMountFailure (error: SandboxError): SandboxError {
  const failure = firstFailure([checkProc, checkOverlay])
  if (failure === undefined) return error
  const diagnosis = errorFromCheck(failure)
  return new SandboxError(diagnosis.code, diagnosis.message, { cause: error, details: [...diagnosis.details, `failed step: ${error.message}`] })
}
