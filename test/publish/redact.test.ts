import { describe, expect, it } from 'vitest'
import { FieldMatcher } from '../../src/compare/field-path.ts'
import { isSecretPath, REDACTED, redactHeaders, redactJson, SECRET_HEADERS } from '../../src/publish/redact.ts'

describe('redactHeaders', () => {
  it('redacts credentials and cookies, whatever their case, and keeps the rest', () => {
    const out = redactHeaders({
      Authorization: 'Bearer abc',
      'proxy-authorization': 'Basic xyz',
      Cookie: 'sid=1',
      'set-cookie': 'sid=2',
      'content-type': 'application/json',
      'x-request-id': 'r1',
    })
    expect(out).toEqual({
      Authorization: REDACTED,
      'proxy-authorization': REDACTED,
      Cookie: REDACTED,
      'set-cookie': REDACTED,
      'content-type': 'application/json',
      'x-request-id': 'r1',
    })
  })

  it('does not modify its input', () => {
    const input = { authorization: 'Bearer abc' }
    redactHeaders(input)
    expect(input.authorization).toBe('Bearer abc')
  })

  it('covers exactly the four secret headers', () => {
    expect([...SECRET_HEADERS].sort()).toEqual(['authorization', 'cookie', 'proxy-authorization', 'set-cookie'])
  })
})

describe('redactJson', () => {
  const secrets = new FieldMatcher(['body.password', 'body.card.number', 'body.users[*].token'])

  it('replaces configured fields, nested and under arrays, and leaves the rest', () => {
    const value = {
      user: 'ann',
      password: 'hunter2',
      card: { number: '4111111111111111', expiry: '12/30' },
      users: [
        { id: 1, token: 't1' },
        { id: 2, token: 't2' },
      ],
    }
    expect(redactJson(value, secrets)).toEqual({
      user: 'ann',
      password: REDACTED,
      card: { number: REDACTED, expiry: '12/30' },
      users: [
        { id: 1, token: REDACTED },
        { id: 2, token: REDACTED },
      ],
    })
    // the original is untouched
    expect(value.password).toBe('hunter2')
    expect(value.users[0]?.token).toBe('t1')
  })

  it('redacts a whole subtree under a secret path', () => {
    expect(redactJson({ password: { old: 'a', new: 'b' } }, secrets)).toEqual({ password: REDACTED })
  })

  it('walks from a difference path given as the root', () => {
    // a difference at body.card carries the card object: its number must still be hidden
    expect(redactJson({ number: '4111', expiry: '01/29' }, secrets, ['body', 'card'])).toEqual({ number: REDACTED, expiry: '01/29' })
    // a difference at body.users[1] carries one element
    expect(redactJson({ id: 2, token: 't2' }, secrets, ['body', 'users', 1])).toEqual({ id: 2, token: REDACTED })
    // a difference at body.users (ignoreArrayOrder names the whole array)
    expect(redactJson([{ id: 1, token: 't1' }], secrets, ['body', 'users'])).toEqual([{ id: 1, token: REDACTED }])
  })

  it('a root that is itself secret redacts the whole value', () => {
    expect(redactJson('hunter2', secrets, ['body', 'password'])).toBe(REDACTED)
  })

  it('leaves scalars, null and non-secret values alone', () => {
    expect(redactJson(null, secrets)).toBeNull()
    expect(redactJson(42, secrets, ['body', 'total'])).toBe(42)
    expect(redactJson(undefined, secrets, ['body', 'card'])).toBeUndefined()
  })

  it('with no secrets returns the value as is', () => {
    const value = { password: 'x' }
    expect(redactJson(value, new FieldMatcher())).toBe(value)
  })
})

describe('isSecretPath', () => {
  const secrets = new FieldMatcher(['body.password', 'headers.x-api-key', 'body.users[*].token'])

  it('secret headers are always secret', () => {
    for (const h of ['authorization', 'proxy-authorization', 'cookie', 'set-cookie']) expect(isSecretPath(['headers', h], new FieldMatcher())).toBe(true)
  })

  it('configured paths and everything below them are secret', () => {
    expect(isSecretPath(['headers', 'x-api-key'], secrets)).toBe(true)
    expect(isSecretPath(['body', 'password'], secrets)).toBe(true)
    expect(isSecretPath(['body', 'password', 'old'], secrets)).toBe(true)
    expect(isSecretPath(['body', 'users', 3, 'token'], secrets)).toBe(true)
  })

  it('other paths are not secret', () => {
    expect(isSecretPath(['headers', 'etag'], secrets)).toBe(false)
    expect(isSecretPath(['body', 'user'], secrets)).toBe(false)
    expect(isSecretPath(['status'], secrets)).toBe(false)
    expect(isSecretPath(['body', 'users', 3, 'id'], secrets)).toBe(false)
    // a parent of a secret is not itself secret: its value is redacted field by field instead
    expect(isSecretPath(['body', 'users'], secrets)).toBe(false)
  })
})
