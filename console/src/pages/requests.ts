import * as api from '../api';
import { deptName, isRole, jurName, type Ctx } from '../context';
import { field, h, replace, table, fmtTime } from '../dom';
import { graphql } from '../gql';
import type { RequestsQuery } from '../gql/graphql';
import { lang, nameOf, tr } from '../i18n';
import { CatalogDoc, tickCountdowns, untilCell, type CatalogDataset } from './catalog';

const RequestsDoc = graphql(`
  query Requests {
    outgoing: accessRequests(direction: OUTGOING) { ...RequestFields }
    incoming: accessRequests(direction: INCOMING) { ...RequestFields }
  }
  fragment RequestFields on AccessRequest {
    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt reason requestedBy
    requesterDept { code name nameEn } providerDept { code name nameEn }
  }
`);

const RequestAccessDoc = graphql(`
  mutation RequestAccess($input: AccessRequestInput!) { requestAccess(input: $input) { id status } }
`);
const ApproveDoc = graphql(`mutation Approve($id: ID!) { approveAccessRequest(id: $id) { id status } }`);
const RejectDoc = graphql(`mutation Reject($id: ID!, $reason: String!) { rejectAccessRequest(id: $id, reason: $reason) { id status } }`);
const RevokeDoc = graphql(`mutation Revoke($id: ID!, $reason: String) { revokeGrant(id: $id, reason: $reason) { id status } }`);

type Req = RequestsQuery['outgoing'][number];

export function jurisdictionSelect(ctx: Ctx, id: string, withDistrict = true): HTMLSelectElement {
  const zh = lang() === 'zh';
  return h('select', { id },
    withDistrict && ctx.district ? h('option', { value: ctx.district.code }, `${zh ? ctx.district.name : ctx.district.nameEn} (${tr('全区', 'whole district')})`) : null,
    ctx.streets.map((s) => h('optgroup', { label: zh ? s.name : s.nameEn },
      h('option', { value: s.code }, zh ? s.name : s.nameEn),
      s.children.map((c) => h('option', { value: c.code }, `${zh ? s.name : s.nameEn} · ${zh ? c.name : c.nameEn}`)))));
}

function deptOf(d: { name: string; nameEn: string }): string {
  return lang() === 'zh' ? d.name : d.nameEn;
}

export async function renderRequests(main: HTMLElement, ctx: Ctx): Promise<void> {
  const cat = await api.query(CatalogDoc, {});
  const own = ctx.viewer.department?.code ?? '';
  // Groups one may ask for: conditional or personal groups another
  // department provides.
  const askable = (ds: CatalogDataset) => ds.groups.filter((g) => (g.class === 'conditional' || g.class === 'personal') && g.provider !== own);
  const datasets = cat.accessCatalog.filter((ds) => askable(ds).length > 0);

  const dsSel = h('select', { id: 'req-dataset' }, datasets.map((ds) => h('option', { value: ds.name }, `${nameOf(ds.name)} (${ds.name})`)));
  const groupsBox = h('fieldset', { className: 'groups', id: 'req-groups' });
  const fillGroups = () => {
    const ds = datasets.find((d) => d.name === dsSel.value);
    replace(groupsBox, h('legend', null, tr('字段组', 'Field groups')),
      (ds ? askable(ds) : []).map((g) => h('label', { className: 'check' },
        h('input', { type: 'checkbox', name: 'group', value: g.name }), ` ${g.name} — ${nameOf(g.class)} · ${tr('提供：', 'from ')}${deptName(ctx, g.provider)}`)));
  };
  dsSel.addEventListener('change', fillGroups);
  fillGroups();
  const jur = jurisdictionSelect(ctx, 'req-jurisdiction');
  const purpose = h('input', { id: 'req-purpose', type: 'text', required: true, maxlength: 200, autocomplete: 'off' });
  const until = h('input', { id: 'req-until', type: 'date', required: true,
    value: new Date(Date.now() + 30 * 86400e3).toISOString().slice(0, 10), min: new Date(Date.now() + 86400e3).toISOString().slice(0, 10) });
  const form = h('form', {
    className: 'card', 'aria-labelledby': 'new-h', id: 'request-form',
    onsubmit: async (ev: Event) => {
      ev.preventDefault();
      const groups = [...groupsBox.querySelectorAll<HTMLInputElement>('input[name=group]:checked')].map((i) => i.value);
      if (!groups.length) { ctx.status(tr('请至少选择一个字段组', 'Choose at least one field group'), 'error'); return; }
      try {
        const r = await api.mutate(RequestAccessDoc, { input: { dataset: dsSel.value, fieldGroups: groups, jurisdiction: jur.value, purpose: purpose.value,
          until: new Date(until.value + 'T23:59:59+08:00').toISOString() } });
        ctx.status(tr('已提交申请 ', 'Request sent ') + r.requestAccess.id);
        purpose.value = '';
        await refresh();
      } catch (e) {
        ctx.status((e as Error).message, 'error');
      }
    },
  },
  h('h3', { id: 'new-h' }, tr('申请数据共享', 'Request access')),
  h('div', { className: 'row' }, field(tr('数据集', 'Dataset'), dsSel), field(tr('范围（辖区）', 'Jurisdiction'), jur), field(tr('截止日期', 'Until'), until)),
  groupsBox,
  field(tr('用途', 'Purpose'), purpose, tr('说明用途，审批人和审计员都能看到。', 'Say why; the approver and the auditors see it.')),
  h('button', { type: 'submit', className: 'primary' }, tr('提交申请', 'Send request')));

  const lists = h('div', { id: 'request-lists' });
  replace(main, h('h2', null, tr('共享申请与授权', 'Access requests and grants')), datasets.length ? form : null, lists);

  const refresh = async () => {
    const d = await api.query(RequestsDoc, {});
    const isAdmin = isRole(ctx, 'admin');
    const inbox = d.incoming.filter((r) => r.status === 'PENDING');
    const grants = [...d.outgoing, ...d.incoming].filter((r) => r.status === 'APPROVED');
    const uniq = [...new Map(grants.map((g) => [g.id, g])).values()];
    const decide = (r: Req) => {
      if (!isAdmin) return tr('需提供部门管理员审批', 'awaiting the provider admin');
      const reason = h('input', { type: 'text', id: `reason-${r.id}`, placeholder: tr('驳回理由', 'reason'), 'aria-label': tr('驳回理由', 'Reason for rejecting') });
      return h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'primary approve', 'data-id': r.id, onclick: () => act(() => api.mutate(ApproveDoc, { id: r.id }), tr('已批准', 'Approved')) }, tr('批准', 'Approve')),
        reason,
        h('button', { type: 'button', className: 'danger reject', onclick: () => {
          if (!reason.value.trim()) { ctx.status(tr('驳回须填写理由', 'A rejection needs a reason'), 'error'); reason.focus(); return; }
          void act(() => api.mutate(RejectDoc, { id: r.id, reason: reason.value.trim() }), tr('已驳回', 'Rejected'));
        } }, tr('驳回', 'Reject')));
    };
    const act = async (f: () => Promise<unknown>, msg: string) => {
      try { await f(); ctx.status(msg); await refresh(); } catch (e) { ctx.status((e as Error).message, 'error'); }
    };
    const reqRow = (r: Req, withDecision: boolean) => [deptOf(r.requesterDept) + ` (${r.requestedBy})`, `${nameOf(r.dataset)}: ${r.fieldGroups.join(', ')}`,
      jurName(ctx, r.jurisdiction), r.purpose, fmtTime(r.until, lang()), h('span', { className: `badge st-${r.status}` }, nameOf(r.status)),
      withDecision ? decide(r) : (r.reason ?? (r.decidedBy ? `${r.decidedBy} ${fmtTime(r.decidedAt, lang())}` : '—'))];
    replace(lists,
      h('section', { className: 'card', id: 'inbox', 'aria-labelledby': 'inbox-h' }, h('h3', { id: 'inbox-h' }, tr('待我部门审批', 'Inbox: requests for my department\'s data'), ` (${inbox.length})`),
        table(tr('待审批申请', 'Pending requests'), [tr('申请部门', 'Requester'), tr('数据', 'Data'), tr('范围', 'Jurisdiction'), tr('用途', 'Purpose'), tr('截止', 'Until'), tr('状态', 'Status'), tr('审批', 'Decision')],
          inbox.length ? inbox.map((r) => reqRow(r, true)) : [[tr('暂无', 'none'), '', '', '', '', '', '']])),
      h('section', { className: 'card', id: 'grants', 'aria-labelledby': 'grants-h' }, h('h3', { id: 'grants-h' }, tr('生效中的授权', 'Grants in force')),
        table(tr('授权（倒计时至到期）', 'Grants with time left'), [tr('获授权部门', 'Grantee'), tr('提供部门', 'Provider'), tr('数据', 'Data'), tr('范围', 'Jurisdiction'), tr('用途', 'Purpose'), tr('到期', 'Until'), tr('操作', 'Action')],
          uniq.length ? uniq.map((g) => [deptOf(g.requesterDept), deptOf(g.providerDept), `${nameOf(g.dataset)}: ${g.fieldGroups.join(', ')}`, jurName(ctx, g.jurisdiction), g.purpose,
            untilCell(g.until),
            isRole(ctx, 'admin') ? h('button', { type: 'button', className: 'danger revoke', 'data-id': g.id, onclick: () => act(() => api.mutate(RevokeDoc, { id: g.id, reason: tr('控制台撤销', 'revoked in the console') }), tr('已撤销', 'Revoked')) }, tr('撤销', 'Revoke')) : '—'])
            : [[tr('暂无', 'none'), '', '', '', '', '', '']])),
      h('section', { className: 'card', id: 'mine', 'aria-labelledby': 'mine-h' }, h('h3', { id: 'mine-h' }, tr('本部门发出的申请', 'Requests my department made')),
        table(tr('本部门申请', 'Outgoing requests'), [tr('申请部门', 'Requester'), tr('数据', 'Data'), tr('范围', 'Jurisdiction'), tr('用途', 'Purpose'), tr('截止', 'Until'), tr('状态', 'Status'), tr('审批/理由', 'Decision / reason')],
          d.outgoing.length ? d.outgoing.map((r) => reqRow(r, false)) : [[tr('暂无', 'none'), '', '', '', '', '', '']])));
  };
  await refresh();
  tickCountdowns(ctx);
  // Others decide too: keep the lists current.
  const poll = setInterval(() => { if (!document.hidden && !document.activeElement?.closest('#inbox input')) void refresh().catch(() => undefined); }, 5000);
  ctx.onCleanup(() => clearInterval(poll));
}
