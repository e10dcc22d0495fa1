// Small statistics for the benchmark report.
export function median (values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return undefined
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export function round (value, digits = 1) {
  if (value === undefined) return undefined
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Rows of [label, ...cells] as an aligned text table. */
export function table (rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column] ?? '').length)))
  return rows.map((row) => row.map((cell, column) => {
    const text = String(cell ?? '')
    return column === 0 ? text.padEnd(widths[column]) : text.padStart(widths[column])
  }).join('  ')).join('\n')
}
