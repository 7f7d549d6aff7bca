import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES, ERRORS } from '../src/errors.ts'

/**
 * docs/errors.md is the operator's list of error codes: it must name every code in the registry
 * with the status the gateway really sends, and name no code the registry does not have.
 */
const DOC = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')

/** Table rows whose first cell is a code: `| \`CUTOVER_X\` | 404 | … |` → { code, status cell }. */
function documentedRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>()
  for (const line of DOC.split('\n')) {
    const m = /^\|\s*`(CUTOVER_[A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|/.exec(line)
    if (m === null) continue
    const code = m[1] as string
    const cells = rows.get(code) ?? []
    cells.push(m[2] as string)
    rows.set(code, cells)
  }
  return rows
}

describe('docs/errors.md', () => {
  const rows = documentedRows()

  it.each([...ERROR_CODES])('lists %s once, with its HTTP status', (code) => {
    const statuses = rows.get(code)
    expect(statuses, `${code} has no row in docs/errors.md`).toBeDefined()
    expect(statuses, `${code} has more than one row in docs/errors.md`).toHaveLength(1)
    expect(Number(/^\d{3}/.exec(statuses?.[0] ?? '')?.[0]), `${code}: status in docs/errors.md`).toBe(ERRORS[code].status)
  })

  it('mentions no CUTOVER_ code that the registry does not have', () => {
    const known = new Set<string>(ERROR_CODES)
    const mentioned = new Set(DOC.match(/\bCUTOVER_[A-Z0-9_]+\b/g) ?? [])
    expect([...mentioned].filter((code) => !known.has(code))).toEqual([])
  })

  it('has a row for every registry code and no other', () => {
    expect([...rows.keys()].sort()).toEqual([...ERROR_CODES].sort())
  })
})
