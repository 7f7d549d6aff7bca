import { Transform, type TransformCallback } from 'node:stream'
import { CutoverError } from '../errors.ts'

/**
 * Passes a request body through to the primary while keeping a copy for the mirrored call, up to
 * `mirrorCap` bytes (past it the copy is dropped and `overflow` set: the request is proxied but not
 * mirrored). Also enforces the request body limit for chunked bodies, like BodyLimit.
 */
export class BodyCapture extends Transform {
  readonly #mirrorCap: number
  readonly #limit: number
  #chunks: Buffer[] | null = []
  #seen = 0
  overflow = false

  constructor(mirrorCap: number, limit: number) {
    super()
    this.#mirrorCap = mirrorCap
    this.#limit = limit
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length
    if (this.#seen > this.#limit) {
      cb(new CutoverError('CUTOVER_BODY_TOO_LARGE'))
      return
    }
    if (this.#chunks !== null) {
      if (this.#seen > this.#mirrorCap) {
        this.#chunks = null
        this.overflow = true
      } else this.#chunks.push(chunk)
    }
    cb(null, chunk)
  }

  /** The whole body, or null when it was over the mirror cap. */
  get body(): Buffer | null {
    return this.#chunks === null ? null : Buffer.concat(this.#chunks)
  }
}
