import type { IncomingHttpHeaders } from 'node:http'

/** One backend's answer as the compare engine sees it: bounded body, the rest as counts. */
export interface CapturedResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** The first `cap` bytes of the body. */
  readonly body: Buffer
  /** Total body length, even past the cap. */
  readonly length: number
  /** True when the body ran past the capture cap: JSON comparison is not possible. */
  readonly truncated: boolean
  readonly latencyMs: number
  /** Set by decodeBody (decode.ts) when the answer had a content-encoding. */
  readonly decoding?: BodyDecoding
}

/**
 * What decoding did to a body sent with a content-encoding. `decoded`: body and length are the
 * decoded bytes. Otherwise body and length are still the bytes as sent, and `reason` says why:
 * `too-large` (the decoded size, or already the encoded one, is over limits.compareBodyBytes;
 * `truncated` is set) or `undecodable` (corrupt data, an unknown or unsupported coding).
 */
export interface BodyDecoding {
  /** the content-encoding header as sent, e.g. `gzip` or `gzip, br` */
  readonly encoding: string
  readonly outcome: 'decoded' | 'too-large' | 'undecodable'
  readonly reason?: string
}

/** Collects a response body up to a cap, counting the rest. */
export class BodyCollector {
  readonly #cap: number
  readonly #chunks: Buffer[] = []
  #kept = 0
  length = 0
  truncated = false

  constructor(cap: number) {
    this.#cap = cap
  }

  push(chunk: Buffer): void {
    this.length += chunk.length
    if (this.truncated) return
    const room = this.#cap - this.#kept
    if (chunk.length <= room) {
      this.#chunks.push(chunk)
      this.#kept += chunk.length
    } else {
      if (room > 0) this.#chunks.push(chunk.subarray(0, room))
      this.#kept = this.#cap
      this.truncated = true
    }
  }

  get body(): Buffer {
    return this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks)
  }
}
