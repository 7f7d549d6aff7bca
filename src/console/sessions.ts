import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { isLoopback, type TokenAuth } from '../control/auth.ts'

export const SESSION_COOKIE = 'cutover_session'
export const CSRF_HEADER = 'x-cutover-csrf'
/** A session ends this long after its last use. */
export const SESSION_IDLE_MS = 8 * 60 * 60 * 1000
/** Oldest sessions are forgotten past this many (each login makes one). */
export const MAX_SESSIONS = 1000

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

interface Session {
  readonly csrf: string
  lastUsed: number
}

/** The value of one cookie in a Cookie header (RFC 6265 §5.4: `name=value` pairs split by `; `). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The host[:port] of a Host header, lower-cased; `[::1]:9901` → `[::1]`. */
function hostName(host: string): string {
  const h = host.toLowerCase()
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'))
  const colon = h.lastIndexOf(':')
  return colon === -1 ? h : h.slice(0, colon)
}

/**
 * The ops console's browser sessions. Logging in with the admin token makes a random session id
 * (kept in an HttpOnly, SameSite=Strict cookie, so page scripts never see it and other sites
 * never send it) and a CSRF token, given to the page in the HTML and sent back in the
 * `X-Cutover-CSRF` header on every state-changing call. Bearer-token clients are not affected:
 * a request carrying `Authorization` is judged by the token alone.
 */
export class ConsoleSessions {
  readonly #auth: TokenAuth | null
  readonly #sessions = new Map<string, Session>()
  readonly #now: () => number

  constructor(auth: TokenAuth | null, now: () => number = Date.now) {
    this.#auth = auth
    this.#now = now
  }

  /** True when the gateway has no admin token: the console needs no login (loopback only). */
  get open(): boolean {
    return this.#auth === null
  }

  /** Checks the admin token and makes a session; undefined for a wrong token. */
  login(token: string): { id: string; csrf: string } | undefined {
    if (this.#auth === null || !this.#auth.check(`Bearer ${token}`)) return undefined
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string)
    const id = randomBytes(32).toString('base64url')
    const csrf = randomBytes(32).toString('base64url')
    this.#sessions.set(id, { csrf, lastUsed: this.#now() })
    return { id, csrf }
  }

  logout(request: FastifyRequest): void {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE)
    if (id !== undefined) this.#sessions.delete(id)
  }

  /** The request's live session, refreshed; undefined without one. */
  session(request: FastifyRequest): { csrf: string } | undefined {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE)
    if (id === undefined) return undefined
    const s = this.#sessions.get(id)
    if (s === undefined) return undefined
    const now = this.#now()
    if (now - s.lastUsed > SESSION_IDLE_MS) {
      this.#sessions.delete(id)
      return undefined
    }
    s.lastUsed = now
    return s
  }

  /** The request may see console data: no token configured, a valid bearer token, or a session. */
  allows(request: FastifyRequest): boolean {
    if (this.#auth === null) return true
    if (request.headers.authorization !== undefined) return this.#auth.check(request.headers.authorization)
    return this.session(request) !== undefined
  }

  /**
   * Why a request must be refused before authentication looks at it, or undefined. Browsers
   * send `Origin` on every cross-origin and every non-GET fetch, so a mismatch is another site
   * posting into the admin port; a cookie without its CSRF header is the same thing through a
   * form. With no token, a non-loopback Host on a browser request is DNS rebinding (a page on
   * attacker.example resolving its name to 127.0.0.1): the one thing that tells it apart.
   */
  refusal(request: FastifyRequest, consolePath: boolean): string | undefined {
    const unsafe = !SAFE_METHODS.has(request.method)
    const origin = request.headers.origin
    const host = request.headers.host ?? ''
    if (this.#auth === null && (consolePath || origin !== undefined) && !isLoopback(hostName(host))) return 'Host must be a loopback name when the admin API has no token'
    if (unsafe && origin !== undefined) {
      let originHost: string
      try {
        originHost = new URL(origin).host
      } catch {
        originHost = ''
      }
      if (originHost.toLowerCase() !== host.toLowerCase()) return 'cross-origin request refused'
    }
    if (unsafe && this.#auth !== null && request.headers.authorization === undefined) {
      const s = this.session(request)
      const sent = request.headers[CSRF_HEADER]
      if (s !== undefined && (typeof sent !== 'string' || !sameSecret(sent, s.csrf))) return 'missing or invalid CSRF token (X-Cutover-CSRF)'
    }
    return undefined
  }
}
