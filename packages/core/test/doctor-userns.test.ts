/** The diagnosis of a refused user namespace, case by case: pure logic, no privileges. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { diagnoseUsernsRefusal, type UsernsRefusal } from '../src/doctor/checks.js'

const EPERM = 'unshare: unshare failed: Operation not permitted'

function refusal (overrides: Partial<UsernsRefusal>): UsernsRefusal {
  return { stderr: EPERM, sysctls: {}, seccompFiltered: false, node: '/usr/bin/node', unshare: '/usr/bin/unshare', ...overrides }
}

describe('diagnoseUsernsRefusal', () => {
  it('names AppArmor\'s restriction (Ubuntu >= 23.10) with both fixes, before any other cause', () => {
    const result = diagnoseUsernsRefusal(refusal({ sysctls: { 'kernel.apparmor_restrict_unprivileged_userns': '1', 'user.max_user_namespaces': '0' }, seccompFiltered: true }))
    assert.equal(result.ok, false)
    assert.equal(result.code, 'NSB_APPARMOR_USERNS')
    assert.equal(result.summary, `unshare --user failed: ${EPERM}`)
    assert.match(result.fix?.join('\n') ?? '', /sysctl -w kernel\.apparmor_restrict_unprivileged_userns=0/)
    assert.match(result.fix?.join('\n') ?? '', /profile for \/usr\/bin\/node and \/usr\/bin\/unshare with the `userns,` rule/)
  })

  it('names Debian\'s old kernel.unprivileged_userns_clone switch', () => {
    const result = diagnoseUsernsRefusal(refusal({ sysctls: { 'kernel.apparmor_restrict_unprivileged_userns': '0', 'kernel.unprivileged_userns_clone': '0' } }))
    assert.equal(result.code, 'NSB_USERNS_DENIED')
    assert.deepEqual(result.fix, ['sudo sysctl -w kernel.unprivileged_userns_clone=1'])
  })

  it('names user.max_user_namespaces=0', () => {
    const result = diagnoseUsernsRefusal(refusal({ stderr: 'unshare: unshare failed: No space left on device', sysctls: { 'user.max_user_namespaces': '0' } }))
    assert.equal(result.code, 'NSB_USERNS_DENIED')
    assert.deepEqual(result.fix, ['sudo sysctl -w user.max_user_namespaces=15000'])
  })

  it('blames a seccomp filter only for EPERM while one is on the process', () => {
    const seccomp = diagnoseUsernsRefusal(refusal({ seccompFiltered: true }))
    assert.equal(seccomp.code, 'NSB_SECCOMP_DENIED')
    assert.match(seccomp.fix?.join('\n') ?? '', /--security-opt seccomp=unconfined/)
    assert.match(seccomp.fix?.join('\n') ?? '', /RestrictNamespaces=no/)
    assert.equal(diagnoseUsernsRefusal(refusal({ seccompFiltered: true, stderr: 'unshare: unshare failed: Invalid argument' })).code, 'NSB_USERNS_DENIED')
    assert.equal(diagnoseUsernsRefusal(refusal({ seccompFiltered: false })).code, 'NSB_USERNS_DENIED')
  })

  it('falls back to the kernel configuration, and says when unshare printed nothing', () => {
    const result = diagnoseUsernsRefusal(refusal({ stderr: '' }))
    assert.equal(result.code, 'NSB_USERNS_DENIED')
    assert.equal(result.summary, 'unshare --user failed: no error text')
    assert.match(result.fix?.[0] ?? '', /CONFIG_USER_NS=y/)
  })
})
