/**
 * Follows WebSocket frame boundaries in one direction of a tunnel without buffering payloads
 * (RFC 6455 §5.2: 2 header bytes, a 16- or 64-bit extended length, an optional 4-byte mask key,
 * then the payload). The gateway needs only this: a close frame injected on drain must start on
 * a boundary, or the client would read it as the middle of another frame.
 */
export class FrameBoundaries {
  /** bytes left in the frame being passed (header included once it is known) */
  #remaining = 0
  /** a header split across chunks, kept until it is whole (at most 14 bytes) */
  #header: Buffer | null = null

  /** True between frames. */
  get atBoundary(): boolean {
    return this.#remaining === 0 && this.#header === null
  }

  /**
   * How many of `chunk`'s bytes end the current frame (0 at a boundary), or `chunk.length` when
   * the frame goes on past it.
   */
  untilBoundary(chunk: Buffer): number {
    if (this.atBoundary) return 0
    if (this.#header === null) return Math.min(this.#remaining, chunk.length)
    // a split header: find out how long the frame is first
    const probe = new FrameBoundaries()
    probe.#header = this.#header
    let used = 0
    while (used < chunk.length && probe.#header !== null) probe.feed(chunk.subarray(used, ++used))
    return probe.#header !== null ? chunk.length : Math.min(used + probe.#remaining, chunk.length)
  }

  /** Accounts for bytes passed through. */
  feed(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - at)
        this.#remaining -= take
        at += take
        continue
      }
      const head = this.#header === null ? chunk.subarray(at) : Buffer.concat([this.#header, chunk.subarray(at)])
      const had = this.#header?.length ?? 0
      const size = headerSize(head)
      if (size === null || head.length < size) {
        this.#header = Buffer.from(head)
        return
      }
      this.#header = null
      const len7 = (head[1] as number) & 0x7f
      const payload = len7 === 126 ? head.readUInt16BE(2) : len7 === 127 ? Number(head.readBigUInt64BE(2)) : len7
      at += size - had
      this.#remaining = payload
    }
  }
}

/** Header length once its first two bytes are known. */
function headerSize(head: Buffer): number | null {
  if (head.length < 2) return null
  const len7 = (head[1] as number) & 0x7f
  const masked = ((head[1] as number) & 0x80) !== 0
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0)
}

/** A server-to-client close frame (unmasked, RFC 6455 §5.5.1): 1001 "going away". */
export function closeFrame(code = 1001, reason = 'gateway draining'): Buffer {
  const text = Buffer.from(reason)
  const frame = Buffer.alloc(4 + text.length)
  frame[0] = 0x88
  frame[1] = 2 + text.length
  frame.writeUInt16BE(code, 2)
  text.copy(frame, 4)
  return frame
}
