import * as api from '../api';
import { jurName, type Ctx } from '../context';
import { field, h, replace, table, fmtTime } from '../dom';
import { graphql } from '../gql';
import type { CaseSource, DataCasesQuery } from '../gql/graphql';
import { lang, tr } from '../i18n';
import { jurisdictionSelect } from './requests';

const CasesDoc = graphql(`
  query DataCases($filter: CaseFilter, $first: Int) {
    cases(filter: $filter, first: $first, orderBy: REPORTED_AT_DESC) {
      totalCount
      edges { node { id caseNo className status source reportedAt jurisdiction { code } reporter { name phone } } }
    }
  }
`);

const MyGrantsDoc = graphql(`query MyGrants { activeGrants(direction: OUTGOING) { id until } }`);

const CaseUpdatedDoc = graphql(`subscription CaseUpdated($filter: CaseFilter) { caseUpdated(filter: $filter) { id status } }`);

type CaseNode = DataCasesQuery['cases']['edges'][number]['node'];

function isMasked(v: string | null | undefined): boolean {
  return !!v && v.includes('*');
}

// renderData: the caller's own view of shared data, as the hub returns
// it, masked or not. It follows grants live: the grant list is polled every
// second (cheap, not a data read) and the cases are read again when it
// changes; case changes arrive through the caseUpdated subscription.
export async function renderData(main: HTMLElement, ctx: Ctx): Promise<void> {
  const jur = jurisdictionSelect(ctx, 'data-jurisdiction');
  const initial = ctx.viewer.jurisdiction !== ctx.district?.code ? ctx.viewer.jurisdiction : (ctx.streets[0]?.code ?? 'hailing');
  jur.value = initial;
  const reportersOnly = h('input', { type: 'checkbox', id: 'data-reporters', checked: true });
  const out = h('div', { id: 'data-out' });
  replace(main, h('h2', null, tr('数据浏览：案件', 'Data: cases')),
    h('p', { className: 'muted' }, tr('按中枢返回的样子显示（含脱敏）。授权变化在一秒内反映。', 'Shown exactly as the hub returns them (masking included). Grant changes show within a second.')),
    h('form', { className: 'card row', onsubmit: (ev: Event) => { ev.preventDefault(); void load(); } },
      field(tr('辖区', 'Jurisdiction'), jur),
      h('label', { className: 'check' }, reportersOnly, tr(' 仅有报案人的案件（热线、市民上报）', ' Only cases with a reporter (hotline, citizen app)')),
      h('button', { type: 'submit', className: 'primary' }, tr('查询', 'Show'))),
    out);
  jur.addEventListener('change', () => void load());

  let stopSub: (() => void) | null = null;
  const load = async (resubscribe = true) => {
    const sources: CaseSource[] | undefined = reportersOnly.checked ? ['HOTLINE_12345', 'CITIZEN_REPORT'] : undefined;
    const filter = { jurisdiction: jur.value, source: sources };
    try {
      const d = await api.query(CasesDoc, { filter, first: 50 });
      const nodes = d.cases.edges.map((e) => e.node);
      const unmasked = nodes.filter((n) => n.reporter && !isMasked(n.reporter.phone) && n.reporter.phone).length;
      replace(out, h('p', { id: 'data-summary' }, tr(`共 ${d.cases.totalCount} 件，显示 ${nodes.length} 件；报案人未脱敏 ${unmasked} 件。`,
        `${d.cases.totalCount} cases, ${nodes.length} shown; ${unmasked} with the reporter unmasked.`)),
      table(tr('案件', 'Cases'), [tr('案件号', 'Case'), tr('类别', 'Class'), tr('状态', 'Status'), tr('辖区', 'Jurisdiction'), tr('报案人', 'Reporter'), tr('电话', 'Phone'), tr('上报时间', 'Reported')],
        nodes.map((n: CaseNode) => [n.caseNo, n.className, n.status, jurName(ctx, n.jurisdiction.code),
          h('span', { className: isMasked(n.reporter?.name) ? 'masked' : 'clear' }, n.reporter?.name ?? '—'),
          h('span', { className: `phone ${isMasked(n.reporter?.phone) ? 'masked' : 'clear'}`, 'data-jurisdiction': n.jurisdiction.code }, n.reporter?.phone ?? '—'),
          fmtTime(n.reportedAt, lang())]), { id: 'cases-table' }));
    } catch (e) {
      ctx.status((e as Error).message, 'error');
    }
    if (!resubscribe) return;
    stopSub?.();
    try {
      stopSub = api.subscribe(CaseUpdatedDoc, { filter: { jurisdiction: jur.value } }, () => void load(false));
    } catch {
      stopSub = null;
    }
  };
  ctx.onCleanup(() => stopSub?.());
  await load();

  let seen: string | null = null;
  const watch = async () => {
    const g = await api.query(MyGrantsDoc, {});
    const now = Date.now();
    const key = g.activeGrants.filter((x) => new Date(x.until).getTime() > now).map((x) => x.id).sort().join(',');
    if (seen !== null && key !== seen) {
      ctx.status(tr('授权已变化，数据已刷新', 'Grants changed; data reloaded'));
      await load();
    }
    seen = key;
  };
  await watch().catch(() => undefined);
  const t = setInterval(() => { if (!document.hidden) void watch().catch(() => undefined); }, 1000);
  ctx.onCleanup(() => clearInterval(t));
}
