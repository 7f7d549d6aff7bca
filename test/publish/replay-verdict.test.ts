import { describe, expect, it } from 'vitest'
import { verdictOf } from '../../src/publish/replay-verdict.ts'

describe('verdictOf: what a resend answer means', () => {
  it('done: 2xx, 3xx, 409; and 404/410 to a DELETE', () => {
    for (const status of [200, 201, 204, 301, 304, 409]) expect(verdictOf('POST', status), String(status)).toBe('done')
    expect(verdictOf('DELETE', 404)).toBe('done')
    expect(verdictOf('DELETE', 410)).toBe('done')
  })
  it('refused (dead-lettered without another try): 400 and 422', () => {
    expect(verdictOf('POST', 400)).toBe('refused')
    expect(verdictOf('PUT', 422)).toBe('refused')
  })
  it('failed (tried again up to the limit): no answer, 5xx, and the other 4xx', () => {
    for (const status of [null, 401, 403, 404, 408, 410, 429, 500, 502, 503, 504]) expect(verdictOf('PUT', status), String(status)).toBe('failed')
  })
})
