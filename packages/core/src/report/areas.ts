/** Which part of the machine a changed path belongs to: the most specific area wins. */
import type { ReportArea } from './types.js'

const TEMPORARY = ['/tmp', '/var/tmp', '/run', '/dev/shm']

function isSameOrBelow (target: string, dir: string): boolean {
  return target === dir || target.startsWith(dir === '/' ? '/' : dir + '/')
}

export function areaClassifier (places: { home: string, project: string }): (target: string) => ReportArea {
  // On a tie the later root wins: a project that is $HOME is the project, a cwd of /tmp is /tmp.
  // `/` as home or project would swallow everything: it says nothing about the change.
  const roots: Array<[string, ReportArea]> = [
    ...(places.home === '/' ? [] : [[places.home, 'home'] as [string, ReportArea]]),
    ...(places.project === '/' ? [] : [[places.project, 'project'] as [string, ReportArea]]),
    ['/etc', 'etc'],
    ...TEMPORARY.map((dir): [string, ReportArea] => [dir, 'tmp'])
  ]
  return (target) => {
    let best: [string, ReportArea] | undefined
    for (const root of roots) {
      if (isSameOrBelow(target, root[0]) && (best === undefined || root[0].length >= best[0].length)) best = root
    }
    return best?.[1] ?? 'other'
  }
}
