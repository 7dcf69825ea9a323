/** Markdown tables and number formatting of the bench report. */

export type Cell = string | number | null | undefined;

/** Milliseconds with 3 significant digits (at least 0.01 resolution below 1 ms). */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

export function ratio(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}x`;
}

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(1)}%`;
}

export function mib(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function cellText(c: Cell): string {
  if (c === null || c === undefined) return 'n/a';
  const text = typeof c === 'number' ? String(c) : c;
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A GitHub-flavoured Markdown table; numeric-looking columns are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const body = rows.map((r) => header.map((_, i) => cellText(r[i])));
  const numeric = header.map((_, i) => body.length > 0 && body.every((r) => /^-?[0-9.,]+( ?(x|%|ms|MiB|MB))?$|^n\/a$/.test(r[i] ?? '')));
  const lines = [
    `| ${header.map(cellText).join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** A report: sections of a title, prose and tables, in order. */
export class Report {
  private readonly parts: string[] = [];

  heading(level: 2 | 3, text: string): this {
    this.parts.push(`${'#'.repeat(level)} ${text}`);
    return this;
  }

  text(text: string): this {
    this.parts.push(text.trim());
    return this;
  }

  table(header: readonly string[], rows: readonly (readonly Cell[])[]): this {
    this.parts.push(table(header, rows));
    return this;
  }

  toString(): string {
    return `${this.parts.join('\n\n')}\n`;
  }
}
