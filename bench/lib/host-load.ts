/**
 * Busy CPU time of the whole machine from /proc/stat, so a run can say how much of the box
 * something other than the bench used meanwhile (this box is shared with test suites; a Kafka
 * test next door shows up as "other" cores). Linux only; elsewhere every reading is null.
 */
import { readFileSync } from 'node:fs'

const USER_HZ = 100 // sysconf(_SC_CLK_TCK) on every Linux this runs on; /proc/stat counts in it

/** Busy µs summed over all cores since boot, or null when /proc/stat is unreadable. */
export function hostBusyMicros(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)
    return (busy * 1e6) / USER_HZ
  } catch {
    return null
  }
}
