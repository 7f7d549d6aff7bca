/* global document, window, fetch, location, confirm, DOMParser, setTimeout, clearTimeout */
// The ops console's client (docs/console.md). The server renders every view; this module only
// logs in, re-fetches the live part of the page every POLL_MS, and sends the admin calls the
// buttons stand for (after a confirmation), with the CSRF token and the route version.

const POLL_MS = 2000
const csrf = document.querySelector('meta[name="cutover-csrf"]')?.getAttribute('content') ?? null
const live = document.getElementById('live')
const status = document.getElementById('status')
const liveState = document.getElementById('live-state')

function say(text, kind = 'info') {
  if (status === null) return
  status.textContent = text
  status.className = `msg msg-${kind}`
  // an alert is announced at once; plain news waits for the reader
  status.setAttribute('role', kind === 'error' ? 'alert' : 'status')
}

async function errorText(res) {
  try {
    const body = await res.json()
    return body?.error?.message ?? `HTTP ${res.status}`
  } catch {
    return `HTTP ${res.status}`
  }
}

/** Sends a state-changing admin call the way the API expects it from a browser session. */
function adminCall(method, path, { body, version } = {}) {
  const headers = {}
  if (csrf !== null) headers['x-cutover-csrf'] = csrf
  if (version !== undefined) headers['if-match'] = `"${version}"`
  if (body !== undefined) headers['content-type'] = 'application/json'
  return fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) })
}

// ---- live update -------------------------------------------------------------------------

/** Someone is typing into or has focus on a control in the live part: do not swap it away. */
function busy() {
  const a = document.activeElement
  return live !== null && a !== null && a !== document.body && live.contains(a) && (a.tagName === 'INPUT' || a.tagName === 'BUTTON')
}

let timer = null
async function refresh(force = false) {
  if (timer !== null) clearTimeout(timer)
  timer = null
  if (live === null) return
  try {
    const res = await fetch(location.pathname, { headers: { 'x-cutover-fragment': '1' }, credentials: 'same-origin' })
    if (res.status === 401) {
      location.reload()
      return
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    const text = await res.text()
    if (force || !busy()) {
      const doc = new DOMParser().parseFromString(`<div>${text}</div>`, 'text/html')
      live.replaceChildren(...doc.body.firstChild.childNodes)
      live.dataset.updated = new Date().toISOString()
    }
    if (liveState !== null) {
      liveState.textContent = `live · ${new Date().toLocaleTimeString()}`
      liveState.className = 'live-state'
    }
  } catch {
    if (liveState !== null) {
      liveState.textContent = 'offline: retrying'
      liveState.className = 'live-state live-off'
    }
  }
  void drawCharts().catch(() => undefined)
  timer = setTimeout(() => void refresh(), POLL_MS)
}

// ---- charts (route page) -----------------------------------------------------------------

const charts = document.getElementById('charts')
let plots = null
/** the newest point's time (s): the charts show the hour up to it */
let latest = Date.now() / 1000

/** uPlot from the package (served at /console/vendor/), loaded only on pages with charts. */
async function drawCharts() {
  if (charts === null) return
  const res = await fetch(charts.dataset.series, { credentials: 'same-origin' })
  if (!res.ok) return
  const { points } = await res.json()
  const xs = points.map((p) => p.t / 1000)
  if (xs.length > 0) latest = xs[xs.length - 1]
  const pctOf = (r) => (r === null ? null : r * 100)
  const p99 = [xs, points.map((p) => p.legacy.p99Ms), points.map((p) => p.cloud.p99Ms)]
  const errors = [xs, points.map((p) => pctOf(p.legacy.errorRate)), points.map((p) => pctOf(p.cloud.errorRate))]
  if (plots !== null) {
    plots[0].setData(p99)
    plots[1].setData(errors)
    return
  }
  const { default: UPlot } = await import('/console/vendor/uPlot.esm.js')
  const width = Math.max(320, Math.min(620, Math.floor((charts.clientWidth - 64) / 2)))
  const options = (unit) => ({
    width,
    height: 220,
    // always the last hour, however few points there are yet
    scales: { x: { time: true, range: () => [latest - 3600, latest + 60] } },
    series: [{}, { label: 'legacy', stroke: '#0b4fa8', width: 2, spanGaps: true, points: { show: true } }, { label: 'cloud', stroke: '#c2410c', width: 2, spanGaps: true, points: { show: true } }],
    axes: [{}, { label: unit }],
  })
  plots = [new UPlot(options('ms'), p99, document.getElementById('chart-p99')), new UPlot(options('%'), errors, document.getElementById('chart-errors'))]
}

// ---- actions -------------------------------------------------------------------------------

async function act(what, send) {
  const res = await send()
  if (res.ok) {
    say(what, 'ok')
  } else if (res.status === 409) {
    say(`Not applied: ${await errorText(res)}. Someone else changed the route first; the page now shows its current state. Check it and try again.`, 'error')
  } else {
    say(`Not applied: ${await errorText(res)}`, 'error')
  }
  await refresh(true)
}

document.addEventListener('submit', (ev) => {
  const form = ev.target
  if (form.id === 'login') {
    ev.preventDefault()
    void login(form)
    return
  }
  if (form.dataset.action !== 'weight') return
  ev.preventDefault()
  const route = form.dataset.route
  const from = Number(form.dataset.weight)
  const to = Number(form.elements.weight.value)
  if (!Number.isInteger(to) || to < 0 || to > 100) {
    say('The weight must be a whole number from 0 to 100.', 'error')
    return
  }
  if (!confirm(`Set the weight of ${route} from ${from} % to ${to} %?`)) return
  void act(`${route}: weight set to ${to} %.`, () => adminCall('PATCH', `/routes/${encodeURIComponent(route)}`, { body: { weight: to }, version: form.dataset.version }))
})

document.addEventListener('click', (ev) => {
  const el = ev.target.closest('button')
  if (el === null) return
  if (el.id === 'logout') {
    void adminCall('POST', '/console/logout').then(() => location.assign('/'))
    return
  }
  const route = el.dataset.route
  const path = `/routes/${encodeURIComponent(route ?? '')}`
  switch (el.dataset.action) {
    case 'rollback':
      if (confirm(`Roll ${route} back to weight 0 (legacy answers everything)?`)) void act(`${route}: rolled back to weight 0.`, () => adminCall('POST', `${path}/rollback`))
      break
    case 'ramp-pause':
      if (confirm(`Pause the ramp of ${route}?`)) void act(`${route}: ramp paused.`, () => adminCall('POST', `${path}/ramp/pause`))
      break
    case 'ramp-resume':
      if (confirm(`Resume the ramp of ${route}?`)) void act(`${route}: ramp resumed.`, () => adminCall('POST', `${path}/ramp/resume`))
      break
  }
})

async function login(form) {
  const out = document.getElementById('login-error')
  const res = await fetch('/console/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ token: form.elements.token.value }),
  })
  // read the answer to its end either way, or a reload aborts it mid-flight
  const problem = res.ok ? null : await errorText(res)
  if (res.ok) {
    await res.arrayBuffer()
    location.reload()
    return
  }
  form.elements.token.value = ''
  if (out !== null) out.textContent = res.status === 401 ? 'Wrong token. Try again.' : `Login failed: ${problem}`
}

if (live !== null) timer = setTimeout(() => void refresh(), POLL_MS)
void drawCharts().catch(() => undefined)
window.cutoverConsole = { refresh }
