/** What one resend's answer means for a replay event (docs/mirroring.md, "Replay"). */
export type ResendVerdict = 'done' | 'refused' | 'failed'

/**
 * - `done`: the backend has the write: 2xx/3xx, 409 (it already has it), and 404/410 to a DELETE
 *   (already gone, which is what the delete wanted).
 * - `refused`: 400 or 422: the backend judged these exact bytes invalid; sending them again gets
 *   the same answer, so no retry.
 * - `failed`: everything else (5xx, other 4xx such as 401/403/404/429, no answer at all): worth
 *   another try, up to the attempt limit.
 */
export function verdictOf(method: string, status: number | null): ResendVerdict {
  if (status === null) return 'failed'
  if (status < 400 || status === 409) return 'done'
  if (method === 'DELETE' && (status === 404 || status === 410)) return 'done'
  if (status === 400 || status === 422) return 'refused'
  return 'failed'
}
