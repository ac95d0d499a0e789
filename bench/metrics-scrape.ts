/** A sample's value from Prometheus text exposition: the sum over its label sets, undefined if absent. */
export function metricValue(text: string, name: string): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match?.[1] !== name) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/** Scrapes a worker's /metrics; undefined if it does not answer within two seconds. */
export async function scrapeMetrics(httpPort: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`, {
      signal: AbortSignal.timeout(2_000),
    });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}
