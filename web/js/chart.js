// chart: a small line chart on a canvas, drawn by hand: a line per series
// over the last WINDOW seconds, the y axis from 0 to a round maximum.

const COLORS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989'];

export function colorOf(i) {
  return COLORS[i % COLORS.length];
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  // Tops whose quarters (the grid lines) are round numbers too.
  for (const m of [1, 2, 4, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/**
 * Draw LINES ([{color, points: [{t, v}]}]) on CANVAS for the WINDOW seconds
 * up to NOW; FORMAT labels the y axis, whose top is at least FLOOR.
 */
export function drawChart(canvas, lines, { now, window, format, floor = 1 }) {
  const dpr = pixelRatio();
  const cssW = Math.max(200, canvas.clientWidth || 300);
  const cssH = Math.max(120, canvas.clientHeight || 160);
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  const left = 64;
  const right = 8;
  const top = 8;
  const bottom = 20;
  const w = cssW - left - right;
  const ht = cssH - top - bottom;
  let max = 0;
  for (const l of lines) for (const p of l.points) if (p.v > max) max = p.v;
  max = niceMax(Math.max(max, floor));
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#57606a';
  g.strokeStyle = '#d0d7de';
  g.lineWidth = 1;
  g.textBaseline = 'middle';
  g.textAlign = 'right';
  for (let i = 0; i <= 4; i += 1) {
    const y = top + ht - (ht * i) / 4;
    g.beginPath();
    g.moveTo(left, Math.round(y) + 0.5);
    g.lineTo(left + w, Math.round(y) + 0.5);
    g.stroke();
    g.fillText(format((max * i) / 4), left - 6, y);
  }
  g.textAlign = 'left';
  g.textBaseline = 'alphabetic';
  g.fillText(`${Math.round(window / 60)} min ago`, left, cssH - 4);
  g.textAlign = 'right';
  g.fillText('now', left + w, cssH - 4);
  const x = (t) => left + w - ((now - t) / window) * w;
  const y = (v) => top + ht - (v / max) * ht;
  g.lineWidth = 2;
  for (const l of lines) {
    g.strokeStyle = l.color;
    g.beginPath();
    let started = false;
    for (const p of l.points) {
      if (p.t < now - window) continue;
      if (started) g.lineTo(x(p.t), y(p.v));
      else { g.moveTo(x(p.t), y(p.v)); started = true; }
    }
    g.stroke();
    // The newest sample as a dot, so that a series of one sample shows too.
    const last = l.points[l.points.length - 1];
    if (last && last.t >= now - window) {
      g.fillStyle = l.color;
      g.beginPath();
      g.arc(x(last.t), y(last.v), 3, 0, 2 * Math.PI);
      g.fill();
    }
  }
}

function pixelRatio() {
  return globalThis.devicePixelRatio || 1;
}
