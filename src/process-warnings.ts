/**
 * Node 24 warns (`TimeoutNegativeWarning`) whenever a timer is set to a negative delay. kafkajs
 * does so on every broker answer while it is not throttled: its request queue schedules the next
 * check at `throttledUntil - Date.now()` with `throttledUntil` = -1, meaning "now" (the timer runs
 * after 1 ms, which is what kafkajs wants). Node prints that warning once per process, as if
 * something were wrong; it is dropped here, and every other warning is printed as Node prints it.
 */
export function quietKafkaTimerWarning(): void {
  const printers = process.listeners('warning')
  process.removeAllListeners('warning')
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning' && warning.stack?.includes('kafkajs') === true) return
    for (const print of printers) print(warning)
  })
}
