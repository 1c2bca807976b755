import * as echarts from '../echarts';
import * as api from '../api';
import { deptName, type Ctx } from '../context';
import { field, h, replace, table, fmtTime, download } from '../dom';
import { graphql } from '../gql';
import type { AuditQuery } from '../gql/graphql';
import { lang, nameOf, tr } from '../i18n';
import { CatalogDoc } from './catalog';

const AuditDoc = graphql(`
  query Audit($filter: AuditFilter, $first: Int, $after: String) {
    auditTrail(filter: $filter, first: $first, after: $after) {
      records { seq at subject dept roles purpose grantId dataset fieldGroups rowCount operation requestId hash }
      next
    }
  }
`);

const ChainDoc = graphql(`
  query AuditChain { auditChain { ok checked headSeq headHash legacy problemCount problems { seq kind detail } checkedAt } }
`);

type Rec = AuditQuery['auditTrail']['records'][number];

function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export async function renderAudit(main: HTMLElement, ctx: Ctx): Promise<void> {
  const cat = await api.query(CatalogDoc, {});
  const dept = h('select', { id: 'audit-dept' }, h('option', { value: '' }, tr('全部', 'all')),
    ctx.departments.map((d) => h('option', { value: d.code }, lang() === 'zh' ? d.name : d.nameEn)));
  const dataset = h('select', { id: 'audit-dataset' }, h('option', { value: '' }, tr('全部', 'all')),
    cat.accessCatalog.map((d) => h('option', { value: d.name }, nameOf(d.name))));
  const subject = h('input', { id: 'audit-subject', type: 'text', autocomplete: 'off' });
  const weekAgo = new Date(Date.now() - 7 * 86400e3);
  const from = h('input', { id: 'audit-from', type: 'datetime-local', value: localInput(weekAgo) });
  const to = h('input', { id: 'audit-to', type: 'datetime-local' });
  const chain = h('section', { className: 'card', id: 'chain', 'aria-labelledby': 'chain-h' });
  const trail = h('section', { className: 'card', id: 'trail', 'aria-labelledby': 'trail-h' });
  const week = h('section', { className: 'card', id: 'week', 'aria-labelledby': 'week-h' });
  replace(main, h('h2', null, tr('审计', 'Audit')), chain,
    h('form', { className: 'card row', id: 'audit-filter', onsubmit: (ev: Event) => { ev.preventDefault(); void loadTrail(); } },
      field(tr('读取部门', 'Reader department'), dept), field(tr('数据集', 'Dataset'), dataset), field(tr('用户', 'Principal'), subject),
      field(tr('起', 'From'), from), field(tr('止', 'To'), to), h('button', { type: 'submit', className: 'primary' }, tr('筛选', 'Filter'))),
    trail, week);

  const loadChain = async () => {
    replace(chain, h('h3', { id: 'chain-h' }, tr('哈希链校验', 'Hash-chain verification')), h('p', { className: 'muted' }, tr('校验中…', 'Verifying…')));
    try {
      const c = (await api.query(ChainDoc, {})).auditChain;
      replace(chain, h('h3', { id: 'chain-h' }, tr('哈希链校验', 'Hash-chain verification')),
        h('p', { id: 'chain-status', className: c.ok ? 'ok' : 'error' }, c.ok ? tr(`✔ 完整：已校验 ${c.checked} 条记录`, `✔ Intact: ${c.checked} records verified`)
          : tr(`✘ 发现 ${c.problemCount} 处问题`, `✘ ${c.problemCount} problems found`)),
        h('p', null, tr('链头：', 'Head: '), h('code', { id: 'chain-head' }, `${c.headSeq}:${c.headHash}`), ' · ', fmtTime(c.checkedAt, lang())),
        h('p', { className: 'muted' }, tr('请在别处记下链头，日后对比可发现截断；签名检查点由 datahub audit verify 校验。', 'Record the head elsewhere and compare later to detect truncation; datahub audit verify also checks the signed checkpoints.')),
        c.problems.length ? table(tr('问题', 'Problems'), ['seq', tr('类型', 'Kind'), tr('说明', 'Detail')], c.problems.map((p) => [String(p.seq), p.kind, p.detail])) : null,
        h('button', { type: 'button', onclick: () => void loadChain() }, tr('重新校验', 'Verify again')));
    } catch (e) {
      replace(chain, h('h3', { id: 'chain-h' }, tr('哈希链校验', 'Hash-chain verification')), h('p', { className: 'error' }, (e as Error).message));
    }
  };

  let records: Rec[] = [];
  let next: string | null = null;
  const filter = () => ({
    dept: dept.value || null, dataset: dataset.value || null, subject: subject.value.trim() || null,
    from: from.value ? new Date(from.value).toISOString() : null, to: to.value ? new Date(to.value).toISOString() : null,
  });
  const drawTrail = () => {
    replace(trail, h('h3', { id: 'trail-h' }, tr('审计记录', 'Audit trail'), ` (${records.length}${next ? '+' : ''})`),
      table(tr('审计记录（最新在前）', 'Records, newest first'), ['seq', tr('时间', 'Time'), tr('用户', 'Principal'), tr('部门', 'Department'), tr('数据集', 'Dataset'),
        tr('字段组', 'Groups'), tr('行数', 'Rows'), tr('操作', 'Operation'), tr('授权/用途', 'Grant / purpose'), tr('哈希', 'Hash')],
      records.map((r) => [String(r.seq), fmtTime(r.at, lang()), r.subject, deptName(ctx, r.dept), nameOf(r.dataset), r.fieldGroups.join(', '), String(r.rowCount), r.operation,
        r.grantId ? `${r.grantId.slice(0, 8)}… ${r.purpose}` : (r.purpose || '—'), h('code', { title: r.hash }, r.hash.slice(0, 12) + '…')]), { id: 'audit-table', className: 'grid compact' }),
      h('div', { className: 'actions' },
        next ? h('button', { type: 'button', onclick: () => void loadTrail(true) }, tr('加载更多', 'Load more')) : null,
        h('button', { type: 'button', onclick: () => download('audit.csv', toCSV(records), 'text/csv;charset=utf-8') }, tr('下载 CSV', 'Download CSV'))));
  };
  const loadTrail = async (more = false) => {
    try {
      const d = await api.query(AuditDoc, { filter: filter(), first: 200, after: more ? next : null });
      records = more ? [...records, ...d.auditTrail.records] : d.auditTrail.records;
      next = d.auditTrail.next ?? null;
      drawTrail();
    } catch (e) {
      replace(trail, h('h3', { id: 'trail-h' }, tr('审计记录', 'Audit trail')), h('p', { className: 'error' }, (e as Error).message));
    }
  };

  // Who read my department's data this week: records of datasets my
  // department provides, by reader department.
  const loadWeek = async () => {
    const mine = ctx.viewer.department?.code;
    const provided = cat.accessCatalog.filter((d) => d.provider === mine || d.groups.some((g) => g.provider === mine)).map((d) => d.name);
    const since = new Date(Date.now() - 7 * 86400e3).toISOString();
    let all: Rec[] = [];
    for (const ds of provided) {
      let after: string | null = null;
      for (let i = 0; i < 5; i++) {
        const d: AuditQuery = await api.query(AuditDoc, { filter: { dataset: ds, from: since }, first: 1000, after });
        all = all.concat(d.auditTrail.records);
        after = d.auditTrail.next ?? null;
        if (!after) break;
      }
    }
    const by = new Map<string, { reads: number; rows: number; subjects: Set<string>; datasets: Set<string> }>();
    for (const r of all) {
      if (r.dept === mine) continue;
      const e = by.get(r.dept) ?? { reads: 0, rows: 0, subjects: new Set(), datasets: new Set() };
      e.reads += 1; e.rows += r.rowCount; e.subjects.add(r.subject); e.datasets.add(r.dataset);
      by.set(r.dept, e);
    }
    const rows = [...by.entries()].sort((a, b) => b[1].reads - a[1].reads);
    const chartEl = h('div', { className: 'chart', id: 'week-chart', role: 'img', 'aria-label': tr('本周各部门读取本部门数据次数', 'Reads of my department\'s data this week, by department') });
    replace(week, h('h3', { id: 'week-h' }, tr('本周谁读取了本部门的数据', 'Who read my department\'s data this week')),
      h('p', { className: 'muted' }, tr(`本部门提供的数据集：${provided.map(nameOf).join('、') || '无'}`, `Datasets my department provides: ${provided.join(', ') || 'none'}`)),
      chartEl,
      table(tr('按读取部门汇总', 'By reader department'), [tr('部门', 'Department'), tr('读取次数', 'Reads'), tr('返回行数', 'Rows'), tr('用户数', 'Principals'), tr('数据集', 'Datasets')],
        rows.length ? rows.map(([d, e]) => [deptName(ctx, d), String(e.reads), String(e.rows), String(e.subjects.size), [...e.datasets].map(nameOf).join('、')]) : [[tr('无', 'none'), '', '', '', '']],
        { id: 'week-table' }));
    const chart = echarts.init(chartEl);
    ctx.onCleanup(() => chart.dispose());
    chart.setOption({
      animation: false,
      grid: { left: 140, right: 24, top: 16, bottom: 32 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'value', name: tr('次数', 'reads') },
      yAxis: { type: 'category', data: rows.map(([d]) => deptName(ctx, d)).reverse() },
      series: [{ type: 'bar', name: tr('读取次数', 'Reads'), data: rows.map(([, e]) => e.reads).reverse(), itemStyle: { color: '#1d4ed8' } }],
    });
  };

  await Promise.all([loadChain(), loadTrail(), loadWeek().catch((e) => ctx.status((e as Error).message, 'error'))]);
}

function toCSV(rs: Rec[]): string {
  const esc = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v).replace(/"/g, '""');
  const head = ['seq', 'at', 'subject', 'dept', 'roles', 'dataset', 'fieldGroups', 'rowCount', 'operation', 'grantId', 'purpose', 'requestId', 'hash'];
  const lines = rs.map((r) => [String(r.seq), r.at, r.subject, r.dept, r.roles.join('|'), r.dataset, r.fieldGroups.join('|'), String(r.rowCount), r.operation, r.grantId, r.purpose, r.requestId, r.hash]
    .map((v) => `"${esc(v)}"`).join(','));
  return '\ufeff' + [head.join(','), ...lines].join('\r\n') + '\r\n';
}
