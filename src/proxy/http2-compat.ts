import type { IncomingMessage, ServerResponse } from 'node:http'

/** The parts of Node's HTTP/2 compatibility request this file reads. */
interface Http2Parts {
  readonly stream?: { readonly endAfterHeaders?: boolean }
}

/** True for a request of Node's HTTP/2 compatibility API: one stream of an h2 connection. */
export function isHttp2(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2
}

/**
 * The client is gone: a closed HTTP/1 response is `destroyed`; Node's HTTP/2 response has no such
 * field (before Node 22), its stream does.
 */
export function responseGone(res: ServerResponse): boolean {
  return res.destroyed ?? (res as unknown as { stream?: { destroyed: boolean } }).stream?.destroyed ?? false
}

/**
 * Makes an HTTP/2 request read as HTTP/1.1 to the rest of the data plane (which forwards it to
 * backends over HTTP/1.1), as RFC 9113 §8.3.1 asks of an intermediary that converts:
 * - pseudo-header fields (`:method`, `:path`, …) leave `rawHeaders`;
 * - `:authority` becomes Host when the client sent no Host. A Host that differs from
 *   `:authority` is kept next to it, so the request is refused as naming two targets (§8.3.1:
 *   malformed), as two Host lines are in HTTP/1.1;
 * - Cookie pieces are joined into one line with `; ` (§8.2.3): HTTP/1.1 allows one Cookie line;
 * - a body without Content-Length is marked `Transfer-Encoding: chunked`. HTTP/2 has no such
 *   header, but that is what its DATA frames are: a body whose length is known at its end. Only a
 *   HEADERS frame that ended the stream means no body at all.
 * `req.headers.host` is set as well, for routes that match on Host.
 */
export function asHttp1Request(req: IncomingMessage): void {
  const raw = req.rawHeaders
  const out: string[] = []
  let authority: string | undefined
  let host: string | undefined
  let cookies: string[] | null = null
  let contentLength = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    const value = raw[i + 1] as string
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = value
      continue
    }
    const lower = name.toLowerCase()
    if (lower === 'cookie') {
      ;(cookies ??= []).push(value)
      continue
    }
    if (lower === 'host') host ??= value
    else if (lower === 'content-length') contentLength = true
    out.push(name, value)
  }
  if (authority !== undefined && (host === undefined || host !== authority)) out.unshift('host', authority)
  if (cookies !== null) out.push('cookie', cookies.join('; '))
  const endAfterHeaders = (req as IncomingMessage & Http2Parts).stream?.endAfterHeaders === true
  if (!contentLength && !endAfterHeaders) out.push('transfer-encoding', 'chunked')
  // rawHeaders is a getter on the HTTP/2 request: this instance gets a value of its own
  Object.defineProperty(req, 'rawHeaders', { value: out, configurable: true })
  if (req.headers.host === undefined && authority !== undefined) req.headers.host = authority
}
