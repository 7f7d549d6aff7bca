import { describe, expect, it } from 'vitest'
import { CutoverError } from '../../src/errors.ts'
import { classifyUpstreamError, nothingSent, upstreamErrorReason } from '../../src/proxy/upstream-error.ts'

const err = (code: string): Error => Object.assign(new Error(code), { code })

describe('upstream errors', () => {
  it.each([
    ['ECONNREFUSED', 'refused', true, 'CUTOVER_UPSTREAM_UNAVAILABLE'],
    ['ENOTFOUND', 'unreachable', true, 'CUTOVER_UPSTREAM_UNAVAILABLE'],
    ['EHOSTUNREACH', 'unreachable', true, 'CUTOVER_UPSTREAM_UNAVAILABLE'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout', true, 'CUTOVER_UPSTREAM_TIMEOUT'],
    // from here on the request may have reached the backend: a write must not be resent
    ['ECONNRESET', 'reset', false, 'CUTOVER_UPSTREAM_UNAVAILABLE'],
    ['UND_ERR_SOCKET', 'reset', false, 'CUTOVER_UPSTREAM_UNAVAILABLE'],
    ['EPIPE', 'reset', false, 'CUTOVER_UPSTREAM_UNAVAILABLE'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', false, 'CUTOVER_UPSTREAM_TIMEOUT'],
    ['HPE_INVALID_CONSTANT', 'invalid', false, 'CUTOVER_UPSTREAM_ERROR'],
  ])('%s: reason %s, nothing sent %s, %s', (code, reason, unsent, kind) => {
    expect(upstreamErrorReason(err(code))).toBe(reason)
    expect(nothingSent(err(code))).toBe(unsent)
    expect(classifyUpstreamError(err(code))).toBe(kind)
  })

  it('the gateway deadline is a timeout that may have reached the backend', () => {
    const e = new CutoverError('CUTOVER_UPSTREAM_TIMEOUT')
    expect(upstreamErrorReason(e)).toBe('timeout')
    expect(nothingSent(e)).toBe(false)
  })
})
