import type { IncomingMessage } from 'node:http'
import { Transform, type TransformCallback } from 'node:stream'
import { CutoverError } from '../errors.ts'

/** What reading a request body in full came to. */
export type ReadBody = Buffer | 'too-large' | 'aborted' | 'timeout'

/**
 * Reads a request body into memory, up to `limit` bytes, before anything is sent upstream: a body
 * reaches a backend only once it is known to fit (a chunked body says its size only at its end).
 * Over the limit the rest is read and dropped, so the client is not reset while it is still
 * sending and can read the 413 (sent with `Connection: close`).
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number, done: (body: ReadBody) => void): void {
  const chunks: Buffer[] = []
  let seen = 0
  let settled = false
  const settle = (body: ReadBody): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    req.removeListener('data', onData)
    req.removeListener('end', onEnd)
    req.removeListener('close', onClose)
    if (body === 'too-large' || body === 'timeout') req.resume()
    done(body)
  }
  // a client trickling its body must not hold a request (and up to `limit` bytes) open forever
  const timer = setTimeout(() => settle('timeout'), timeoutMs)
  const onData = (chunk: Buffer): void => {
    seen += chunk.length
    if (seen > limit) settle('too-large')
    else chunks.push(chunk)
  }
  const onEnd = (): void => settle(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, seen))
  // 'close' before 'end': the client went away mid-body
  const onClose = (): void => settle('aborted')
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('close', onClose)
  // a socket error is reported again as 'close'; without a listener it would throw
  req.on('error', noop)
}

function noop(): void {}

/**
 * Counts a chunked request body on its way upstream and fails it once it passes the limit, for
 * routes that opt into streaming (`streamBody`); the backend may then have received part of it.
 * Bodies with a Content-Length over the limit never get here: they are refused before anything
 * is sent. (fastify's bodyLimit does not apply: the body is streamed, never parsed.)
 */
export class BodyLimit extends Transform {
  readonly #limit: number
  #seen = 0

  constructor(limit: number) {
    super()
    this.#limit = limit
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length
    if (this.#seen > this.#limit) cb(new CutoverError('CUTOVER_BODY_TOO_LARGE'))
    else cb(null, chunk)
  }
}
