/**
 * Plain-text layout helpers. The console lays out its own lines (Ink's truncate would add a "…" the Linux VT
 * cannot draw), so every glyph here is one column wide: box drawing and blocks are, and nothing else is used.
 */

export const width = (s: string) => [...s].length;

/** At most `w` columns; cut text ends with the theme's ellipsis. */
export function fit(s: string, w: number, ellipsis = '..'): string {
  if (w <= 0) return '';
  const chars = [...s];
  if (chars.length <= w) return s;
  if (w <= ellipsis.length) return chars.slice(0, w).join('');
  return chars.slice(0, w - width(ellipsis)).join('') + ellipsis;
}

export const padEnd = (s: string, w: number, ellipsis = '..') => {
  const f = fit(s, w, ellipsis);
  return f + ' '.repeat(Math.max(0, w - width(f)));
};
export const padStart = (s: string, w: number, ellipsis = '..') => {
  const f = fit(s, w, ellipsis);
  return ' '.repeat(Math.max(0, w - width(f))) + f;
};

/** Word-wrap to `w` columns; words longer than a line are broken hard. Continuation lines get `indent`. */
export function wrap(text: string, w: number, indent = ''): string[] {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    const lead = /^\s*/.exec(paragraph)![0];
    const words = paragraph
      .slice(lead.length)
      .split(/ +/)
      .filter((x) => x !== '');
    let line = lead;
    let fresh = true;
    const flush = () => {
      out.push(line.replace(/\s+$/, ''));
      line = lead + indent;
      fresh = true;
    };
    for (const word of words) {
      const room = w - width(line) - (fresh ? 0 : 1);
      if (width(word) <= room) {
        line += (fresh ? '' : ' ') + word;
        fresh = false;
        continue;
      }
      if (!fresh) flush();
      let rest = [...word];
      for (let room = Math.max(1, w - width(line)); rest.length > room; room = Math.max(1, w - width(line))) {
        line += rest.slice(0, room).join('');
        rest = rest.slice(room);
        flush();
      }
      line += rest.join('');
      fresh = false;
    }
    if (!fresh || words.length === 0) out.push(line.replace(/\s+$/, ''));
  }
  return out;
}

/** Wrap, but keep at most `max` lines; the last kept line says more was cut. */
export function wrapMax(text: string, w: number, max: number, ellipsis = '..', indent = ''): string[] {
  const lines = wrap(text, w, indent);
  if (lines.length <= max) return lines;
  const kept = lines.slice(0, max);
  kept[max - 1] = fit(lines[max - 1]!, w - width(ellipsis), '') + ellipsis;
  return kept;
}

export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  const mm = Math.floor(whole / 60) % 60;
  const ss = String(whole % 60).padStart(2, '0');
  return whole >= 3600 ? `${Math.floor(whole / 3600)}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}
