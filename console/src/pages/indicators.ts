import * as echarts from '../echarts';
import * as api from '../api';
import { jurName, type Ctx } from '../context';
import { field, h, replace, download } from '../dom';
import { graphql } from '../gql';
import type { IndicatorsQuery } from '../gql/graphql';
import { tr } from '../i18n';

const IndicatorsDoc = graphql(`
  query Indicators($from: DateTime!, $to: DateTime!, $filter: IndicatorFilter) {
    indicators(period: MONTH, from: $from, to: $to, groupBy: [STREET], filter: $filter) {
      periodStart street
      figures { name value numerator denominator formula suppressed }
    }
  }
`);

type Fig = IndicatorsQuery['indicators'][number]['figures'][number];

const FIGURES: { name: string; zh: string; en: string; percent: boolean }[] = [
  { name: 'closure_rate', zh: '结案率', en: 'Closure rate', percent: true },
  { name: 'on_time_closure_rate', zh: '按期结案率', en: 'On-time closure rate', percent: true },
  { name: 'satisfaction', zh: '满意度（星）', en: 'Satisfaction (stars)', percent: false },
  { name: 'participation', zh: '公众参与率', en: 'Participation', percent: true },
  { name: 'composite', zh: '综合得分', en: 'Composite score', percent: false },
];

function month(iso: string): string {
  // Periods start at local midnight (Asia/Shanghai); label by that month.
  return new Date(new Date(iso).getTime() + 8 * 3600e3).toISOString().slice(0, 7);
}

function fmt(f: Fig | undefined, percent: boolean): string {
  if (!f) return '—';
  if (f.suppressed) return tr('已抑制', 'suppressed');
  if (f.value === null || f.value === undefined) return tr('无（分母为0）', 'n/a (no denominator)');
  return percent ? `${(f.value * 100).toFixed(1)}%` : f.value.toFixed(2);
}

export async function renderIndicators(main: HTMLElement, ctx: Ctx): Promise<void> {
  const now = new Date();
  const toDefault = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const fromDefault = new Date(Date.UTC(toDefault.getUTCFullYear() - 1, toDefault.getUTCMonth(), 1));
  const fig = h('select', { id: 'ind-figure' }, FIGURES.map((f) => h('option', { value: f.name }, tr(f.zh, f.en))));
  const from = h('input', { id: 'ind-from', type: 'month', value: fromDefault.toISOString().slice(0, 7), required: true });
  const to = h('input', { id: 'ind-to', type: 'month', value: new Date(toDefault.getTime() - 86400e3).toISOString().slice(0, 7), required: true });
  const chartEl = h('div', { className: 'chart tall', id: 'ind-chart', role: 'img' });
  const tableBox = h('div', { id: 'ind-table', className: 'scroll' });
  const csvBtn = h('button', { type: 'button', id: 'ind-csv' }, tr('下载 CSV（当前所示）', 'Download CSV (what is shown)'));
  replace(main, h('h2', null, tr('考评指标（按街道、按月）', 'Indicators by street and month')),
    h('form', { className: 'card row', onsubmit: (ev: Event) => { ev.preventDefault(); void load(); } },
      field(tr('指标', 'Figure'), fig), field(tr('起始月', 'From month'), from), field(tr('截止月（含）', 'To month (incl.)'), to),
      h('button', { type: 'submit', className: 'primary', id: 'ind-show' }, tr('显示', 'Show')), csvBtn),
    h('p', { className: 'muted' }, tr('悬停查看分子、分母与公式。“已抑制”表示该格少于5件，不予公开，并非零。', 'Hover for numerator, denominator and formula. "Suppressed" means the cell rests on fewer than 5 cases and is withheld; it is not zero.')),
    chartEl, tableBox);
  const chart = echarts.init(chartEl);
  ctx.onCleanup(() => chart.dispose());
  const onResize = () => chart.resize();
  window.addEventListener('resize', onResize);
  ctx.onCleanup(() => window.removeEventListener('resize', onResize));
  fig.addEventListener('change', () => void load());

  let csv = '';
  csvBtn.addEventListener('click', () => download(`indicators-${fig.value}.csv`, csv, 'text/csv;charset=utf-8'));

  const load = async () => {
    const def = FIGURES.find((f) => f.name === fig.value)!;
    const fromISO = new Date(from.value + '-01T00:00:00+08:00').toISOString();
    const [ty, tm] = to.value.split('-').map(Number);
    const toISO = new Date(`${tm === 12 ? ty + 1 : ty}-${String(tm === 12 ? 1 : tm + 1).padStart(2, '0')}-01T00:00:00+08:00`).toISOString();
    let d: IndicatorsQuery;
    try {
      d = await api.query(IndicatorsDoc, { from: fromISO, to: toISO });
    } catch (e) {
      ctx.status((e as Error).message, 'error');
      return;
    }
    const months = [...new Set(d.indicators.map((r) => month(r.periodStart)))].sort();
    const streets = [...new Set(d.indicators.map((r) => r.street ?? ''))].filter(Boolean).sort();
    const cell = new Map<string, Fig>();
    for (const r of d.indicators) {
      const f = r.figures.find((x) => x.name === def.name);
      if (f && r.street) cell.set(`${r.street}|${month(r.periodStart)}`, f);
    }
    const label = tr(def.zh, def.en);
    chartEl.setAttribute('aria-label', `${label}: ${streets.length} ${tr('个街道', 'streets')}, ${months.length} ${tr('个月', 'months')}`);
    chart.setOption({
      animation: false,
      legend: { type: 'scroll', top: 0 },
      grid: { left: 56, right: 24, top: 40, bottom: 40 },
      tooltip: {
        trigger: 'item',
        formatter: (p: unknown) => {
          const q = p as { seriesName: string; name: string; data: { fig?: Fig } };
          const f = q.data?.fig;
          const lines = [`${q.seriesName} · ${q.name}`, `${label}: ${fmt(f, def.percent)}`];
          if (f && !f.suppressed) lines.push(`${tr('分子', 'numerator')}: ${f.numerator ?? '—'} / ${tr('分母', 'denominator')}: ${f.denominator ?? '—'}`);
          if (f) lines.push(`${tr('公式', 'formula')}: ${f.formula}`);
          return lines.map((l) => l.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!)).join('<br>');
        },
      },
      xAxis: { type: 'category', data: months },
      yAxis: { type: 'value', name: label, axisLabel: { formatter: def.percent ? (v: number) => `${Math.round(v * 100)}%` : undefined } },
      series: streets.map((s) => ({
        type: 'line', name: jurName(ctx, s), connectNulls: false, symbolSize: 7,
        // A suppressed or undefined figure is a gap, never a zero.
        data: months.map((m) => {
          const f = cell.get(`${s}|${m}`);
          return { value: f && !f.suppressed && f.value !== null ? f.value : null, fig: f, name: m };
        }),
      })),
    }, true);
    // The table below shows the same cells, suppressed ones as such.
    const head = [tr('街道', 'Street'), ...months];
    const body = streets.map((s) => [jurName(ctx, s), ...months.map((m) => fmt(cell.get(`${s}|${m}`), def.percent))]);
    replace(tableBox, h('table', { className: 'grid compact' }, h('caption', null, label),
      h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, streets.map((s, i) => h('tr', null, h('th', { scope: 'row' }, body[i][0]), months.map((m, j) => {
        const f = cell.get(`${s}|${m}`);
        const td = h('td', { className: f?.suppressed ? 'suppressed' : '' }, body[i][j + 1]);
        if (f) td.title = f.suppressed ? tr('少于5件，已抑制', 'fewer than 5 cases: suppressed') : `${f.numerator ?? '—'} / ${f.denominator ?? '—'} · ${f.formula}`;
        return td;
      }))))));
    const q = (v: string) => `"${v.replace(/"/g, '""')}"`;
    const csvRows = [['street', 'month', 'figure', 'value', 'numerator', 'denominator', 'suppressed', 'formula'].join(',')];
    for (const s of streets) for (const m of months) {
      const f = cell.get(`${s}|${m}`);
      if (!f) continue;
      csvRows.push([q(s), m, def.name, f.suppressed ? 'suppressed' : (f.value ?? ''), f.suppressed ? '' : (f.numerator ?? ''), f.suppressed ? '' : (f.denominator ?? ''), f.suppressed, q(f.formula)].join(','));
    }
    csv = '\ufeff' + csvRows.join('\r\n') + '\r\n';
  };
  await load();
}
