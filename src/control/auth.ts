import { createHash, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import { CutoverError } from '../errors.ts'

/**
 * Bearer-token check in constant time. Both sides are hashed first so that the comparison is of
 * equal-length digests and leaks neither the token's content nor its length.
 */
export class TokenAuth {
  readonly #digest: Buffer

  constructor(token: string) {
    // config validation refuses these too; this guards every other way a token arrives. A token
    // with whitespace could never be presented (the header's token is one \S+ run), and one of
    // only whitespace would be matched by a header of spaces in a looser check.
    if (!/^\S+$/.test(token)) {
      throw new CutoverError('CUTOVER_CONFIG_INVALID', 'admin.token: must not be empty or contain whitespace', { details: ['admin.token: must not contain whitespace'] })
    }
    this.#digest = sha256(token)
  }

  check(authorization: string | undefined): boolean {
    if (authorization === undefined) return false
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (m === null) return false
    return timingSafeEqual(sha256(m[1] as string), this.#digest)
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** True for 127.0.0.0/8, ::1 and 'localhost'; the admin API may run without a token only there. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  const kind = isIP(host)
  if (kind === 4) return host.startsWith('127.')
  if (kind === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}
