/** The adapters' run report (`report: true | 'json'`): option, ranking, document, summary, file. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { SandboxError } from '../src/errors.js'
import { emitRunReport } from '../src/report/run-output.js'
import {
  RUN_REPORT_FILE, RUN_REPORT_VERSION, buildRunReport, checkRunReportOption, formatRunReportLine, formatRunSummary,
  severity, strongerRunReportOption, type RunReportEntry
} from '../src/report/run-summary.js'
import type { FileChange, SideEffectReport } from '../src/report/types.js'

const ROOT = '/work/app'

function change (file: string, area: FileChange['area'], kind: FileChange['kind'] = 'created'): FileChange {
  return { path: file, kind, area, type: 'file' }
}

function report (parts: Partial<SideEffectReport> = {}): SideEffectReport {
  return { files: [], processes: [], ports: [], notes: [], ...parts }
}

const HOME_WRITER: RunReportEntry = {
  testFiles: [`${ROOT}/tests/home.test.js`],
  project: 'app',
  report: report({
    files: [
      { path: '/home/me/.config/tool', kind: 'created', area: 'home', type: 'dir', entries: 2 },
      change('/etc/tool.conf', 'etc'),
      change('/tmp/scratch', 'tmp')
    ]
  })
}
const DETACHED: RunReportEntry = {
  testFiles: [`${ROOT}/tests/detached.test.js`],
  report: report({ processes: [{ pid: 7, argv: ['sleep', '300'], command: 'sleep 300' }] })
}
const SERVER: RunReportEntry = {
  testFiles: [`${ROOT}/tests/server.test.js`],
  report: report({
    processes: [{ pid: 9, argv: ['node', 'server.js'], command: 'node server.js' }],
    ports: [{ protocol: 'tcp', address: '127.0.0.1', port: 3000 }, { protocol: 'tcp', address: '::1', port: 3000 }],
    files: [change(`${ROOT}/out.txt`, 'project')]
  })
}
const TMP_ONLY: RunReportEntry = { testFiles: [`${ROOT}/tests/tmp.test.js`], report: report({ files: [change('/tmp/a', 'tmp'), change('/tmp/b', 'tmp')] }) }
const CLEAN: RunReportEntry = { testFiles: [`${ROOT}/tests/clean.test.js`], report: report() }

describe('the adapters\' report option', () => {
  it('accepts true, false, \'json\' and nothing; anything else names the option and its accepted forms', () => {
    assert.equal(checkRunReportOption(undefined), false)
    assert.equal(checkRunReportOption(true), true)
    assert.equal(checkRunReportOption(false), false)
    assert.equal(checkRunReportOption('json'), 'json')
    for (const wrong of ['yes', 1, 'JSON', null, {}]) {
      assert.throws(() => checkRunReportOption(wrong), (error: unknown) => {
        assert.ok(error instanceof SandboxError)
        assert.equal(error.code, 'NSB_INVALID_OPTION')
        assert.match(error.message, /^option `report`: expected true \(.*\), 'json' \(.*\) or false, got /)
        return true
      }, String(wrong))
    }
  })

  it('a summary wins over the file alone, which wins over nothing', () => {
    assert.equal(strongerRunReportOption(false, 'json'), 'json')
    assert.equal(strongerRunReportOption('json', true), true)
    assert.equal(strongerRunReportOption(false, false), false)
  })
})

describe('the run report document', () => {
  const document = buildRunReport({ tool: 'vitest', root: ROOT, entries: [CLEAN, TMP_ONLY, DETACHED, HOME_WRITER, SERVER], createdAt: new Date(0) })

  it('ranks worst first: paths outside /tmp, processes and ports count; /tmp only breaks ties', () => {
    assert.deepEqual(document.sandboxes.map((s) => s.testFiles[0]),
      ['tests/server.test.js', 'tests/home.test.js', 'tests/detached.test.js', 'tests/tmp.test.js', 'tests/clean.test.js'])
    assert.deepEqual(document.sandboxes[0]?.counts, { outsideTmp: 1, tmp: 0, processes: 1, ports: 2 })
    assert.equal(severity(document.sandboxes[1]?.counts ?? { outsideTmp: 0, tmp: 0, processes: 0, ports: 0 }), 2)
  })

  it('has a version, the root, test files relative to it, projects, totals and the full reports', () => {
    assert.equal(document.version, RUN_REPORT_VERSION)
    assert.equal(document.tool, 'vitest')
    assert.equal(document.root, ROOT)
    assert.equal(document.createdAt, '1970-01-01T00:00:00.000Z')
    assert.deepEqual(document.totals, { sandboxes: 5, testFiles: 5, wroteOutsideTmp: 2, leftProcesses: 2, leftPorts: 1 })
    const home = document.sandboxes.find((s) => s.testFiles[0] === 'tests/home.test.js')
    assert.equal(home?.project, 'app')
    assert.deepEqual(home?.report, HOME_WRITER.report)
    assert.equal(document.sandboxes.find((s) => s.testFiles[0] === 'tests/clean.test.js')?.project, undefined)
    // JSON round trip: nothing in it that JSON cannot carry
    assert.deepEqual(JSON.parse(JSON.stringify(document)), document)
  })

  it('keeps a test file outside the root absolute; one sandbox may list several files', () => {
    const lane: RunReportEntry = { testFiles: [`${ROOT}/b.test.js`, '/elsewhere/a.test.js', `${ROOT}/a.test.js`], report: report() }
    const doc = buildRunReport({ tool: 'jest', root: ROOT, entries: [lane] })
    assert.deepEqual(doc.sandboxes[0]?.testFiles, ['/elsewhere/a.test.js', 'a.test.js', 'b.test.js'])
    assert.deepEqual(doc.totals, { sandboxes: 1, testFiles: 3, wroteOutsideTmp: 0, leftProcesses: 0, leftPorts: 0 })
  })
})

describe('the run summary', () => {
  const document = buildRunReport({ tool: 'vitest', root: ROOT, entries: [CLEAN, TMP_ONLY, DETACHED, HOME_WRITER, SERVER] })

  it('lists the sandboxes with side effects outside /tmp, worst first, with examples, and names the file', () => {
    const text = formatRunSummary(document, '/work/app/ns-sandbox-report.json')
    const lines = text.trimEnd().split('\n')
    assert.equal(lines[0], 'ns-sandbox report: 5 test files; 2 wrote outside /tmp, 2 left processes running, 1 left ports listening (worst first)')
    assert.equal(lines[1], '  tests/server.test.js: 1 path outside /tmp, 1 process left running, 2 ports listening')
    assert.match(text, /^ {6}project +created +\/work\/app\/out\.txt$/m)
    assert.match(text, /^ {6}process +pid 9 +node server\.js$/m)
    assert.match(text, /^ {6}port +tcp +\[::1\]:3000$/m)
    assert.match(text, /^ {2}tests\/home\.test\.js \[app\]: 2 paths outside \/tmp, 1 in \/tmp$/m)
    assert.match(text, /^ {6}\$HOME +created +\/home\/me\/\.config\/tool\/ \(2 entries\)$/m)
    assert.match(text, /^ {2}tests\/detached\.test\.js: 1 process left running$/m)
    assert.doesNotMatch(text, /tmp\.test\.js|clean\.test\.js|\/tmp\/scratch/, 'only /tmp writes or nothing: not listed')
    assert.equal(lines.at(-1), '  per-file detail: /work/app/ns-sandbox-report.json')
    assert.ok(text.indexOf('server.test.js') < text.indexOf('home.test.js') && text.indexOf('home.test.js') < text.indexOf('detached.test.js'))
  })

  it('stays compact: a few sandboxes, a few examples each', () => {
    const many: RunReportEntry[] = Array.from({ length: 25 }, (_, i) => ({
      testFiles: [`${ROOT}/t${String(i).padStart(2, '0')}.test.js`],
      report: report({ files: Array.from({ length: 10 + i }, (_, j) => change(`${ROOT}/out-${j}`, 'project')) })
    }))
    const text = formatRunSummary(buildRunReport({ tool: 'jest', root: ROOT, entries: many }), 'f.json', { maxSandboxes: 3, maxExamples: 2 })
    const lines = text.trimEnd().split('\n')
    assert.equal(lines.length, 1 + 3 * 3 + 1 + 1, text)
    assert.match(lines[1] ?? '', /^ {2}t24\.test\.js: 34 paths outside \/tmp$/)
    assert.match(text, /^ {6}\.\.\. and 33 more$/m)
    assert.match(text, /^ {2}\.\.\. and 22 more sandboxes with side effects$/m)
  })

  it('says so when nothing escaped /tmp; names a sandbox of several files, a limit and a note', () => {
    const quiet = formatRunSummary(buildRunReport({ tool: 'jest', root: ROOT, entries: [CLEAN, TMP_ONLY] }), 'f.json')
    assert.equal(quiet, 'ns-sandbox report: 2 test files, no writes outside /tmp, no processes or ports left\n  per-file detail: f.json\n')
    const lane: RunReportEntry = {
      testFiles: ['a', 'b', 'c', 'd'].map((name) => `${ROOT}/${name}.test.js`),
      report: report({ files: [change('/etc/x', 'etc')], limitHit: 'oom', notes: ['processes and ports unknown: the sandbox was killed before its command ended'] })
    }
    const text = formatRunSummary(buildRunReport({ tool: 'jest', root: ROOT, entries: [lane] }), 'f.json')
    assert.match(text, /^ns-sandbox report: 4 test files in 1 sandbox;/)
    assert.match(text, /^ {2}a\.test\.js, b\.test\.js, c\.test\.js \+ 1 more \(one sandbox\): 1 path outside \/tmp, OOM kill$/m)
    assert.match(text, /^ {2}note: 1 sandbox with notes, e\.g\. .*: processes and ports unknown/m)
  })

  it('\'json\': one line with the count and the file', () => {
    assert.equal(formatRunReportLine(document, '/x/ns-sandbox-report.json'),
      'ns-sandbox report: 5 test files, 3 wrote outside /tmp or left processes or ports: /x/ns-sandbox-report.json\n')
    const lane = buildRunReport({ tool: 'jest', root: ROOT, entries: [{ ...DETACHED, testFiles: [`${ROOT}/a.test.js`, `${ROOT}/b.test.js`] }] })
    assert.equal(formatRunReportLine(lane, 'f.json'), 'ns-sandbox report: 2 test files in 1 sandbox, 1 wrote outside /tmp or left processes or ports: f.json\n')
  })
})

describe('writing the run report', () => {
  it('writes ns-sandbox-report.json in the root; true prints the summary, \'json\' one line, false nothing', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-run-report-'))
    try {
      for (const option of [true, 'json', false] as const) {
        fs.rmSync(path.join(root, RUN_REPORT_FILE), { force: true })
        let printed = ''
        const entries = [{ ...DETACHED, testFiles: [path.join(root, 'tests/detached.test.js')] }]
        const file = emitRunReport({ option, tool: 'jest', root, entries, print: (text) => { printed += text } })
        if (option === false) {
          assert.equal(file, undefined)
          assert.equal(printed, '')
          assert.ok(!fs.existsSync(path.join(root, RUN_REPORT_FILE)))
          continue
        }
        assert.equal(file, path.join(root, RUN_REPORT_FILE))
        const written = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: number, sandboxes: Array<{ testFiles: string[] }> }
        assert.equal(written.version, RUN_REPORT_VERSION)
        assert.deepEqual(written.sandboxes.map((s) => s.testFiles), [['tests/detached.test.js']])
        assert.equal(printed.split('\n').filter(Boolean).length > 1, option === true, printed)
        assert.ok(printed.includes(file), printed)
        assert.deepEqual(fs.readdirSync(root).filter((name) => name.endsWith('.tmp')), [], 'no partial file left')
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })

  it('a root it cannot write: says why, still prints the summary', () => {
    let printed = ''
    const file = emitRunReport({ option: true, tool: 'vitest', root: '/nonexistent/dir', entries: [DETACHED], print: (text) => { printed += text } })
    assert.equal(file, undefined)
    assert.match(printed, /could not write \/nonexistent\/dir\/ns-sandbox-report\.json: ENOENT/)
    assert.match(printed, /detached\.test\.js: 1 process left running/)
    assert.match(printed, /per-file detail: \(not written\)/)
  })
})
