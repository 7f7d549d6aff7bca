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
  timer = setTimeout(() => void refresh(), POLL_MS)
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
window.cutoverConsole = { refresh }
