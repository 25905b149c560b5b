// Plain-text tables for the terminal: the first column left-aligned, the others right-aligned (they are numbers).

/** rows: arrays of cells (strings or numbers, null shows as "-"); returns the table as a string ending in \n. */
export function formatTable(header, rows, { alignLeft = [0] } = {}) {
  const cells = [header, ...rows].map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
  const widths = header.map((_, col) => Math.max(...cells.map((row) => [...(row[col] ?? '')].length)));
  const line = (row) =>
    row
      .map((cell, col) => {
        const padding = ' '.repeat(widths[col] - [...cell].length);
        return alignLeft.includes(col) ? cell + padding : padding + cell;
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return `${[line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n')}\n`;
}

export function formatMegabytes(bytes, digits = 1) {
  return bytes === null || bytes === undefined ? null : (bytes / 1e6).toFixed(digits);
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return null;
  return seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1);
}

export function formatRate(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}
