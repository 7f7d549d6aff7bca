import { describe, expect, it } from 'vitest'
import { TokenAuth } from '../../src/control/auth.ts'
import { CutoverError } from '../../src/errors.ts'

describe('TokenAuth', () => {
  it('accepts exactly the bearer token', () => {
    const auth = new TokenAuth('test-token-0123456789abcdef')
    expect(auth.check('Bearer test-token-0123456789abcdef')).toBe(true)
    expect(auth.check('bearer   test-token-0123456789abcdef ')).toBe(true)
    expect(auth.check('Bearer test-token-0123456789abcdeF')).toBe(false)
    expect(auth.check('Basic test-token-0123456789abcdef')).toBe(false)
    expect(auth.check(undefined)).toBe(false)
  })

  it.each([' '.repeat(16), '\t'.repeat(20), '', 'two words-0123456789'])('refuses the token %j', (token) => {
    expect(() => new TokenAuth(token)).toThrow(CutoverError)
  })

  it('a header of spaces never passes', () => {
    const auth = new TokenAuth('test-token-0123456789abcdef')
    expect(auth.check('Bearer ' + ' '.repeat(16))).toBe(false)
  })
})
