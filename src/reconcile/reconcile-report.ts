import type { ReconcileReport, RouteReport, SideRead } from './reconcile.ts'

/** Items listed per kind and route in the text report; `--json` lists them all. */
export const TEXT_ITEMS = 20
const VALUE_CHARS = 80

function value(v: unknown): string {
  const s = v === undefined ? '(absent)' : (JSON.stringify(v) ?? String(v))
  return s.length > VALUE_CHARS ? `${s.slice(0, VALUE_CHARS - 1)}…` : s
}

function sideRead(name: string, r: SideRead): string {
  const stop = r.stop === 'end' ? '' : r.stop === 'max-pages' ? ', stopped at --max-pages' : r.stop === 'timeout' ? ', stopped at --timeout' : `, failed: ${r.error ?? 'error'}`
  const noId = r.withoutId > 0 ? `, ${r.withoutId} without an id` : ''
  return `${name} ${r.pages} pages, ${r.items} items${noId}${stop}`
}

function capped<T>(list: readonly T[], line: (x: T) => string, lines: string[]): void {
  for (const x of list.slice(0, TEXT_ITEMS)) lines.push(line(x))
  if (list.length > TEXT_ITEMS) lines.push(`  … and ${list.length - TEXT_ITEMS} more (--json lists all)`)
}

function routeText(r: RouteReport): string[] {
  const lines = [`route ${r.route}: ${r.source} → ${r.target} (${r.source} is the source; id map '${r.map}')`]
  lines.push(`  read: ${sideRead('legacy', r.read.legacy)}; ${sideRead('cloud', r.read.cloud)}`)
  capped(r.differs, (d) => {
    const ids = d.id === d.targetId ? d.id : `${d.id} ↔ ${d.targetId}`
    const fields = d.fields.map((f) => `${f.path} ${value(f.source)} ≠ ${value(f.target)} (${f.kind})`).join('; ')
    return `  differs ${ids}: ${fields}${d.truncated ? '; … (more fields)' : ''}`
  }, lines)
  capped(r.missing, (id) => `  missing ${id}: on ${r.source} only`, lines)
  capped(r.extra, (id) => `  extra ${id}: on ${r.target} only`, lines)
  if (r.repair !== undefined) {
    const p = r.repair
    lines.push(`  repair: ${p.updated} updated, ${p.created} created, ${p.deleted} deleted, ${p.failed.length} failed (${p.before} differences before; checked again)`)
    capped(p.failed, (f) => `  repair failed: ${f.action} ${f.id}: ${f.reason}`, lines)
  }
  if (r.unchecked.missing + r.unchecked.extra > 0) {
    lines.push(`  not checked (a side was read only in part): ${r.unchecked.missing} ${r.source} items without a counterpart in the ${r.target} pages read, ${r.unchecked.extra} the other way`)
  }
  lines.push(`  ${r.differences} differences: ${r.differs.length} differing, ${r.missing.length} missing, ${r.extra.length} extra; ${r.matched} matched${r.complete ? '' : '; incomplete'}`)
  return lines
}

/** The human report: one block per route, then a summary line. */
export function formatReport(report: ReconcileReport): string {
  const lines = report.routes.flatMap(routeText)
  const routes = `${report.routes.length} route${report.routes.length === 1 ? '' : 's'}`
  lines.push(report.complete ? `${report.differences} differences in ${routes}` : `${report.differences} differences in ${routes}, incomplete: a side was not read to the end (raise --max-pages or --timeout, or see the error)`)
  return lines.join('\n') + '\n'
}
