import * as echarts from '../echarts';
import * as api from '../api';
import { jurName, type Ctx } from '../context';
import { h, replace } from '../dom';
import { graphql } from '../gql';
import type { MapDataQuery } from '../gql/graphql';
import { lang, tr } from '../i18n';

const MapDoc = graphql(`
  query MapData($jur: String!) {
    cases(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id caseNo status className location { lat lng } } } }
    violations(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id recordNo status kind location { lat lng } } } }
    parkingLots(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id name totalSpaces isGovernment location { lat lng } } } }
  }
`);

// Status colours (colour-blind safe palette) and shapes per layer.
const STATUS_COLOR: Record<string, string> = {
  REPORTED: '#d55e00', REGISTERED: '#e69f00', DISPATCHED: '#0072b2', RETURNED: '#cc79a7', HANDLED: '#56b4e9', REWORK: '#a50026',
  DEFERRED: '#999999', BACKLOG: '#666666', CLOSED: '#009e73', NOT_REGISTERED: '#bbbbbb',
  DISCOVERED: '#d55e00', NOTICE_ISSUED: '#e69f00', RECTIFICATION_DUE: '#a50026', DEMOLISHED: '#009e73', LEGALIZED: '#56b4e9', PENALIZED: '#0072b2',
};

type Pt = { value: [number, number]; label: string; status: string };

// renderMap draws the hub's own coordinates on a plain lon/lat plane (no
// map tiles): cases, violations and parking lots of a jurisdiction as
// vector layers, with the jurisdiction tree to zoom in.
export async function renderMap(main: HTMLElement, ctx: Ctx): Promise<void> {
  const tree = h('nav', { className: 'tree card', 'aria-label': tr('辖区树', 'Jurisdiction tree'), id: 'jur-tree' });
  const chartEl = h('div', { className: 'chart map', id: 'map-chart', role: 'img' });
  const legend = h('p', { id: 'map-summary', className: 'muted' });
  replace(main, h('h2', null, tr('地图：案件、违法行为与停车场', 'Map: cases, violations and parking lots')),
    h('div', { className: 'split' }, tree, h('div', null, chartEl, legend)));
  const chart = echarts.init(chartEl);
  ctx.onCleanup(() => chart.dispose());
  const zh = lang() === 'zh';
  let current = ctx.viewer.jurisdiction;

  const btn = (code: string, name: string) => h('button', {
    type: 'button', className: 'link', 'data-code': code, 'aria-pressed': code === current ? 'true' : 'false',
    onclick: () => { current = code; drawTree(); void load(); },
  }, name);
  const drawTree = () => replace(tree, h('ul', null,
    ctx.district ? h('li', null, btn(ctx.district.code, zh ? ctx.district.name : ctx.district.nameEn),
      h('ul', null, ctx.streets.map((s) => h('li', null, btn(s.code, zh ? s.name : s.nameEn),
        (current === s.code || current.startsWith(s.code + '.')) ? h('ul', null, s.children.map((c) => h('li', null, btn(c.code, zh ? c.name : c.nameEn)))) : null)))) : null));
  drawTree();

  const load = async () => {
    let d: MapDataQuery;
    try {
      d = await api.query(MapDoc, { jur: current });
    } catch (e) {
      ctx.status((e as Error).message, 'error');
      return;
    }
    const cases: Pt[] = d.cases.edges.map(({ node: n }) => ({ value: [n.location.lng, n.location.lat], label: `${n.caseNo} ${n.className}`, status: n.status }));
    const viol: Pt[] = d.violations.edges.map(({ node: n }) => ({ value: [n.location.lng, n.location.lat], label: `${n.recordNo} ${n.kind}`, status: n.status }));
    const lots: Pt[] = d.parkingLots.edges.map(({ node: n }) => ({ value: [n.location.lng, n.location.lat], label: `${n.name} (${n.totalSpaces})`, status: n.isGovernment ? 'GOV' : 'LOT' }));
    const all = [...cases, ...viol, ...lots];
    const lngs = all.map((p) => p.value[0]);
    const lats = all.map((p) => p.value[1]);
    // Equal distances on both axes: a degree of longitude is cos(lat) of
    // one of latitude; widen the shorter range to the chart's aspect.
    let [x0, x1, y0, y1] = all.length ? [Math.min(...lngs), Math.max(...lngs), Math.min(...lats), Math.max(...lats)] : [119.85, 120.0, 32.4, 32.6];
    const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
    const w = chartEl.clientWidth - 80, hgt = chartEl.clientHeight - 80;
    let dx = Math.max((x1 - x0) * k, 0.002), dy = Math.max(y1 - y0, 0.002);
    if (dx / dy < w / hgt) dx = dy * w / hgt; else dy = dx * hgt / w;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    [x0, x1, y0, y1] = [cx - dx / k / 2 * 1.05, cx + dx / k / 2 * 1.05, cy - dy / 2 * 1.05, cy + dy / 2 * 1.05];
    const color = (p: { data: Pt }) => STATUS_COLOR[p.data.status] ?? '#333333';
    chartEl.setAttribute('aria-label', tr(`${jurName(ctx, current)}：案件 ${cases.length}，违法行为 ${viol.length}，停车场 ${lots.length}`,
      `${jurName(ctx, current)}: ${cases.length} cases, ${viol.length} violations, ${lots.length} parking lots`));
    chart.setOption({
      animation: false,
      legend: { top: 0, data: [tr('案件', 'Cases'), tr('违法行为', 'Violations'), tr('停车场', 'Parking lots')] },
      grid: { left: 56, right: 24, top: 36, bottom: 40 },
      tooltip: { trigger: 'item', formatter: (p: unknown) => { const q = p as { seriesName: string; data: Pt }; return `${q.seriesName}<br>${q.data.label.replace(/[<>&]/g, '')}<br>${q.data.status}`; } },
      xAxis: { type: 'value', min: x0, max: x1, name: tr('经度', 'lon'), axisLabel: { formatter: (v: number) => v.toFixed(3) }, splitLine: { lineStyle: { color: '#e5e7eb' } } },
      yAxis: { type: 'value', min: y0, max: y1, name: tr('纬度', 'lat'), axisLabel: { formatter: (v: number) => v.toFixed(3) }, splitLine: { lineStyle: { color: '#e5e7eb' } } },
      dataZoom: [{ type: 'inside', xAxisIndex: 0, filterMode: 'none' }, { type: 'inside', yAxisIndex: 0, filterMode: 'none' }],
      series: [
        { type: 'scatter', name: tr('案件', 'Cases'), symbol: 'circle', symbolSize: 7, data: cases, itemStyle: { color, opacity: 0.85 } },
        { type: 'scatter', name: tr('违法行为', 'Violations'), symbol: 'triangle', symbolSize: 10, data: viol, itemStyle: { color, borderColor: '#111', borderWidth: 0.5 } },
        { type: 'scatter', name: tr('停车场', 'Parking lots'), symbol: 'rect', symbolSize: 9, data: lots, itemStyle: { color: (p: { data: Pt }) => (p.data.status === 'GOV' ? '#6a3d9a' : '#1f78b4') } },
      ],
    }, true);
    chartEl.dataset.points = String(all.length);
    replace(legend, tr(`${jurName(ctx, current)}：案件 ${cases.length}/${d.cases.totalCount}，违法行为 ${viol.length}/${d.violations.totalCount}，停车场 ${lots.length}/${d.parkingLots.totalCount}（每层最多200个）。颜色表示状态；滚轮缩放。`,
      `${jurName(ctx, current)}: cases ${cases.length}/${d.cases.totalCount}, violations ${viol.length}/${d.violations.totalCount}, parking lots ${lots.length}/${d.parkingLots.totalCount} (200 per layer at most). Colour is status; scroll to zoom.`),
    h('span', { className: 'keys' }, Object.entries(STATUS_COLOR).slice(0, 10).map(([s, c]) => h('span', { className: 'key', 'data-color': c }, s))));
    for (const el of legend.querySelectorAll<HTMLElement>('.key')) el.style.setProperty('--c', el.dataset.color!);
  };
  await load();
}
