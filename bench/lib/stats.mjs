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

/**
 * Pure: per-tool figures over one corpus (convert, imap): median and best wall time of the runs that passed their
 * check, throughput at the median, worst peak RSS, median CPU (the tool's, and the machine's while it ran), and why
 * a run failed. `corpus`: { messages, sizeBytes }.
 */
export function summarizeCorpusRuns({ records, names, corpus }) {
  const out = {};
  const medianOf = (runs, key) => median(runs.map((r) => r[key]).filter((v) => v !== null && v !== undefined));
  for (const name of names) {
    const runs = records.filter((r) => r.tool === name);
    const good = runs.filter((r) => r.verification?.ok);
    const medianSeconds = median(good.map((r) => r.wallSeconds));
    const failed = runs.find((r) => !r.verification?.ok);
    out[name] = {
      runs: runs.length,
      okRuns: good.length,
      medianSeconds,
      bestSeconds: minimum(good.map((r) => r.wallSeconds)),
      messagesPerSecond: medianSeconds ? corpus.messages / medianSeconds : null,
      megabytesPerSecond: medianSeconds ? corpus.sizeBytes / 1e6 / medianSeconds : null,
      peakRssBytes: maximum(good.map((r) => r.peakRssBytes)),
      maxProcesses: maximum(good.map((r) => r.maxProcesses)),
      cpuSeconds: medianOf(good, 'cpuSeconds'),
      machineCpuSeconds: medianOf(good, 'machineCpuSeconds'),
      problem: failed ? failed.verification?.detail ?? failed.harnessError ?? 'failed' : null,
    };
  }
  return out;
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
