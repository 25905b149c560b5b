// Small statistics over repeated runs. With few runs on a shared machine the median is the honest centre and the
// minimum the best case the tool can reach; we report both.

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function minimum(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length ? Math.min(...finite) : null;
}

export function maximum(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length ? Math.max(...finite) : null;
}

/** Pure: per-tool median/best wall time and worst RSS over the runs that passed their check. */
export function summarizeToolRuns(records, names) {
  const out = {};
  for (const name of names) {
    const ok = records.filter((r) => r.tool === name && r.verification?.ok);
    const walls = ok.map((r) => r.wallSeconds);
    out[name] = {
      runs: records.filter((r) => r.tool === name).length,
      okRuns: ok.length,
      medianWallSeconds: median(walls),
      bestWallSeconds: minimum(walls),
      worstPeakRssBytes: maximum(ok.map((r) => r.peakRssBytes)),
    };
  }
  return out;
}
