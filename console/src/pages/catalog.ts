import * as api from '../api';
import { deptName, jurName, type Ctx } from '../context';
import { h, replace, table, fmtTime } from '../dom';
import { graphql } from '../gql';
import type { CatalogQuery, GrantsQuery } from '../gql/graphql';
import { lang, nameOf, tr } from '../i18n';

export const CatalogDoc = graphql(`
  query Catalog {
    accessCatalog {
      name about provider actions noAccess
      groups { name class provider about masks { field rule } }
      mine { allRows jurisdictions departments ownReports actions grantIds groups { group access visibleIn } }
      baseline { role departments departmentsLabel rows groups actions }
    }
  }
`);

export const GrantsDoc = graphql(`
  query Grants {
    outgoing: activeGrants(direction: OUTGOING) { ...GrantFields }
    incoming: activeGrants(direction: INCOMING) { ...GrantFields }
  }
  fragment GrantFields on AccessRequest {
    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt requestedBy
    requesterDept { code name nameEn } providerDept { code name nameEn }
  }
`);

export type CatalogDataset = CatalogQuery['accessCatalog'][number];
export type Grant = GrantsQuery['outgoing'][number];

export function providerName(ctx: Ctx, code: string): string {
  return code === 'district' ? tr('区政府（无部门）', 'the district (no department)') : deptName(ctx, code);
}

export function countdown(until: string, now = Date.now()): string {
  let s = Math.max(0, Math.floor((new Date(until).getTime() - now) / 1000));
  if (s === 0) return tr('已到期', 'expired');
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const mm = Math.floor(s / 60); s -= mm * 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return (d > 0 ? tr(`${d}天 `, `${d}d `) : '') + `${pad(hh)}:${pad(mm)}:${pad(s)}`;
}

// Countdown cells tick every second while the page is shown.
export function tickCountdowns(ctx: Ctx): void {
  const t = setInterval(() => {
    for (const el of document.querySelectorAll<HTMLElement>('[data-until]')) el.textContent = countdown(el.dataset.until!);
  }, 1000);
  ctx.onCleanup(() => clearInterval(t));
}

export function untilCell(until: string): HTMLElement {
  return h('span', null, fmtTime(until, lang()), ' · ', h('span', { 'data-until': until, className: 'countdown' }, countdown(until)));
}

export async function renderCatalog(main: HTMLElement, ctx: Ctx): Promise<void> {
  replace(main, h('h2', null, tr('数据目录与共享规则', 'Catalog and sharing rules')), h('p', { className: 'muted' }, tr('加载中…', 'Loading…')));
  const [cat, grants] = await Promise.all([
    api.query(CatalogDoc, {}),
    api.query(GrantsDoc, {}).catch(() => ({ outgoing: [], incoming: [] }) as GrantsQuery),
  ]);
  const all = new Map<string, Grant>();
  for (const g of [...grants.outgoing, ...grants.incoming]) all.set(g.id, g);
  const sections = cat.accessCatalog.map((ds) => {
    const dsGrants = [...all.values()].filter((g) => g.dataset === ds.name);
    return h('section', { className: 'card dataset', id: `ds-${ds.name}`, 'aria-labelledby': `ds-${ds.name}-h` },
      h('h3', { id: `ds-${ds.name}-h` }, `${nameOf(ds.name)} `, h('code', null, ds.name)),
      h('p', null, ds.about),
      h('p', null, h('strong', null, tr('提供部门：', 'Provider: ')), providerName(ctx, ds.provider),
        ds.actions.length ? [' · ', h('strong', null, tr('操作：', 'Actions: ')), ds.actions.join(', ')] : null),
      table(tr('字段组', 'Field groups'), [tr('字段组', 'Group'), tr('共享类别', 'Sharing class'), tr('提供部门', 'Provided by'), tr('说明', 'About'), tr('脱敏规则', 'Masking')],
        ds.groups.map((g) => [h('code', null, g.name), h('span', { className: `class class-${g.class}` }, nameOf(g.class)), providerName(ctx, g.provider), g.about,
          g.masks.length ? g.masks.map((m) => h('div', null, h('code', null, m.field), ' — ', nameOf(m.rule))) : '—'])),
      table(tr('基线策略：谁能看到什么', 'Baseline policy: who sees what'),
        [tr('角色', 'Role'), tr('部门', 'Departments'), tr('行范围', 'Rows'), ...ds.groups.map((g) => g.name), tr('操作', 'Actions')],
        ds.baseline.map((l) => [nameOf(l.role), l.departmentsLabel, l.rows, ...l.groups.map((c) => h('span', { className: `acc acc-${c.replace(/[^a-z]+/g, '-')}` }, nameOf(c))), l.actions.join(', ') || '—']),
        { className: 'grid compact' }),
      ds.noAccess.length ? h('p', { className: 'muted' }, tr('无权访问的角色：', 'No access: ') + ds.noAccess.map(nameOf).join('、')) : null,
      table(tr('生效中的授权（与本部门相关）', 'Grants in force (involving my department)'),
        [tr('获授权部门', 'Grantee'), tr('提供部门', 'Provider'), tr('字段组', 'Groups'), tr('范围', 'Jurisdiction'), tr('用途', 'Purpose'), tr('到期', 'Until')],
        dsGrants.length ? dsGrants.map((g) => [lang() === 'zh' ? g.requesterDept.name : g.requesterDept.nameEn, lang() === 'zh' ? g.providerDept.name : g.providerDept.nameEn,
          g.fieldGroups.join(', '), jurName(ctx, g.jurisdiction), g.purpose, untilCell(g.until)]) : [[tr('无', 'none'), '', '', '', '', '']]));
  });
  replace(main, h('h2', null, tr('数据目录与共享规则', 'Catalog and sharing rules')),
    h('p', { className: 'muted' }, tr('基线策略来自 policies/ 中的策略文件；授权在其上叠加，到期或撤销即失效。', 'The baseline comes from the policy files in policies/; grants apply on top until they expire or are revoked.')),
    h('nav', { className: 'toc', 'aria-label': tr('数据集', 'Datasets') }, cat.accessCatalog.map((ds) => h('a', { href: `#ds-${ds.name}` }, nameOf(ds.name)))),
    sections);
  tickCountdowns(ctx);
}
