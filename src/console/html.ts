/**
 * A tagged template for server-rendered HTML: every interpolated value is escaped unless it is
 * itself the result of `html` (or an array of them), so route ids, field paths and the legacy
 * and cloud values shown on the page can never inject markup.
 */
export class Html {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
  toString(): string {
    return this.text
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[]

function render(v: Part): string {
  if (v === null || v === undefined || v === false) return ''
  if (v instanceof Html) return v.text
  if (Array.isArray(v)) return v.map(render).join('')
  return escapeHtml(String(v))
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] as string
  for (let i = 0; i < values.length; i++) out += render(values[i] as Part) + (strings[i + 1] as string)
  return new Html(out)
}
