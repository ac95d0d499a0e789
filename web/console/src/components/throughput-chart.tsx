// The last hour's sends per minute as stacked bars (sent below, failed above), drawn in plain SVG.
import type { ThroughputMinute } from "../../../../internal/console/console-api.ts";
import { count } from "../format.ts";

const WIDTH = 640;
const HEIGHT = 150;
const LEFT = 44;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 22;

const clock = (iso: string): string =>
  new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

export function ThroughputChart({ minutes }: { minutes: readonly ThroughputMinute[] }) {
  const sent = minutes.reduce((sum, m) => sum + m.sent, 0);
  const failed = minutes.reduce((sum, m) => sum + m.failed, 0);
  const summary = `Last hour: ${sent} sent, ${failed} failed`;
  const max = Math.max(1, ...minutes.map((m) => m.sent + m.failed));
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const slot = plotW / Math.max(minutes.length, 60);
  const barW = Math.max(slot - 1, 1);
  const y = (n: number): number => (n / max) * plotH;
  const first = minutes[0];
  const last = minutes[minutes.length - 1];

  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={summary}
        preserveAspectRatio="xMidYMid meet"
      >
        <title>{summary}</title>
        <line class="axis" x1={LEFT} y1={TOP} x2={LEFT} y2={TOP + plotH} />
        <line class="axis" x1={LEFT} y1={TOP + plotH} x2={WIDTH - RIGHT} y2={TOP + plotH} />
        <text class="axis-label" x={LEFT - 4} y={TOP + 4} text-anchor="end">
          {count(max)}
        </text>
        <text class="axis-label" x={LEFT - 4} y={TOP + plotH} text-anchor="end">
          0
        </text>
        {minutes.map((m, i) => {
          const x = LEFT + i * slot;
          const hSent = y(m.sent);
          const hFailed = y(m.failed);
          return (
            <g key={m.minute}>
              {m.sent > 0 && (
                <rect class="bar-sent" x={x} y={TOP + plotH - hSent} width={barW} height={hSent} />
              )}
              {m.failed > 0 && (
                <rect
                  class="bar-failed"
                  x={x}
                  y={TOP + plotH - hSent - hFailed}
                  width={barW}
                  height={hFailed}
                />
              )}
            </g>
          );
        })}
        {first !== undefined && (
          <text class="axis-label" x={LEFT} y={HEIGHT - 6}>
            {clock(first.minute)}
          </text>
        )}
        {last !== undefined && (
          <text class="axis-label" x={WIDTH - RIGHT} y={HEIGHT - 6} text-anchor="end">
            {clock(last.minute)}
          </text>
        )}
        <text class="axis-label" x={LEFT + plotW / 2} y={HEIGHT - 6} text-anchor="middle">
          last 60 minutes, per minute (max {count(max)})
        </text>
      </svg>
      <figcaption>
        <span class="key key-sent" aria-hidden="true" /> Sent {count(sent)}
        <span class="key key-failed" aria-hidden="true" /> Failed {count(failed)}
      </figcaption>
    </figure>
  );
}
