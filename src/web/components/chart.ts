import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { clock } from '../format.js';
import type { Samples } from '../state.js';

const HEIGHT = 220;
/** The chart shows at least this much time, so the first seconds do not stretch over the whole width. */
const MIN_SPAN_MS = 30_000;

function data(s: Samples): uPlot.AlignedData {
  // The budget last, so it is drawn over measured and planned power where they meet it.
  return [s.t, s.planned, s.measured, s.budget];
}

function options(width: number): uPlot.Options {
  const kw = (_u: uPlot, values: number[]) => values.map((v) => `${(v / 1000).toFixed(v >= 10_000 || v === 0 ? 0 : 1)} kW`);
  return {
    width,
    height: HEIGHT,
    ms: 1,
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    scales: {
      x: { time: true, range: (_u, min, max) => [Math.min(min, max - MIN_SPAN_MS), max] },
      y: { range: (_u, _min, max) => [0, Math.max(1000, max * 1.15)] },
    },
    axes: [
      { stroke: '#5b6675', values: (_u, ticks) => ticks.map((t) => clock(t)), space: 70, grid: { stroke: '#e6e9ee', width: 1 }, ticks: { stroke: '#e6e9ee' } },
      { stroke: '#5b6675', values: kw, size: 56, grid: { stroke: '#e6e9ee', width: 1 }, ticks: { stroke: '#e6e9ee' } },
    ],
    series: [
      {},
      { label: 'Planned', stroke: '#3d6fb6', width: 2, points: { show: false } },
      { label: 'Measured', stroke: '#2a9d62', fill: 'rgba(42,157,98,0.14)', width: 2, points: { show: false } },
      { label: 'Budget', stroke: '#d1495b', width: 2, dash: [6, 4], paths: uPlot.paths.stepped?.({ align: 1 }), points: { show: false } },
    ],
  };
}

/** Site power against the budget over the last minutes (uPlot on a canvas, updated in place). */
export function PowerChart({ samples }: { samples: Samples }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const u = new uPlot(options(Math.max(200, el.clientWidth)), data(samples), el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Created once; later samples go through setData below.
  }, []);

  useEffect(() => {
    plot.current?.setData(data(samples));
  }, [samples]);

  const last = samples.t[samples.t.length - 1];
  return html`<div
    class="chart"
    ref=${box}
    role="img"
    aria-label="Site power of the last minutes: budget, planned and measured"
    data-points=${samples.t.length}
    data-last=${last ?? ''}
  ></div>`;
}
