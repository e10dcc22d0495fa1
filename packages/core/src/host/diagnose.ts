/** Why did the launcher end before the sandbox started? The doctor's checks say. */
import { checkNetworkNamespace, checkOverlay, checkProc, checkTools, checkUserNamespaces, type CheckResult } from '../doctor/checks.js'
import { SandboxError } from '../errors.js'

export function errorFromCheck (check: CheckResult): SandboxError {
  return new SandboxError(check.code ?? 'NSB_SETUP_FAILED', `${check.name}: ${check.summary}`, { details: check.fix ?? [] })
}

export function diagnoseLaunchFailure (): SandboxError {
  const { result, tools } = checkTools()
  if (!result.ok || tools === undefined) return errorFromCheck(result)
  for (const check of [checkUserNamespaces, checkNetworkNamespace, checkProc, checkOverlay]) {
    const outcome = check(tools)
    if (!outcome.ok) return errorFromCheck(outcome)
  }
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
  const { result, tools } = checkTools()
  if (!result.ok || tools === undefined) return error
  for (const check of [checkProc, checkOverlay]) {
    const outcome = check(tools)
    if (outcome.ok) continue
    const diagnosis = errorFromCheck(outcome)
    return new SandboxError(diagnosis.code, diagnosis.message, { cause: error, details: [...diagnosis.details, `failed step: ${error.message}`] })
  }
  return error
}
