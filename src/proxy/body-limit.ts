import { Transform, type TransformCallback } from 'node:stream'
import { CutoverError } from '../errors.ts'

/**
 * Counts a chunked request body on its way upstream and fails it once it passes the limit.
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
