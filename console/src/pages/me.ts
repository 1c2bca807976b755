import * as api from '../api';
import { deptName, jurName, type Ctx } from '../context';
import { h, replace, table } from '../dom';
import { nameOf, tr } from '../i18n';
import { CatalogDoc } from './catalog';

// renderMe: who the hub thinks you are, and what that lets you see of
// every dataset now (the catalog's view of your own decision).
export async function renderMe(main: HTMLElement, ctx: Ctx): Promise<void> {
  const v = ctx.viewer;
  replace(main, h('h2', null, tr('我的身份与权限', 'Who I am and what I may see')));
  main.appendChild(h('dl', { className: 'card identity', id: 'identity' },
    h('dt', null, tr('用户', 'User')), h('dd', null, v.subject),
    h('dt', null, tr('类型', 'Kind')), h('dd', null, v.kind),
    h('dt', null, tr('部门', 'Department')), h('dd', { id: 'me-dept' }, v.department ? `${deptName(ctx, v.department.code)} (${v.department.code})` : '—'),
    h('dt', null, tr('角色', 'Roles')), h('dd', { id: 'me-roles' }, v.roles.map((r) => `${nameOf(r)} (${r})`).join('、')),
    h('dt', null, tr('辖区', 'Jurisdiction')), h('dd', { id: 'me-jur' }, `${jurName(ctx, v.jurisdiction)} (${v.jurisdiction})`)));
  const cat = await api.query(CatalogDoc, {});
  const rows = cat.accessCatalog.map((ds) => {
    const m = ds.mine;
    const scope: string[] = [];
    if (m.allRows) scope.push(tr('全部', 'all rows'));
    for (const j of m.jurisdictions) scope.push(tr('辖区 ', 'under ') + jurName(ctx, j));
    for (const d of m.departments) scope.push(tr('本部门办理 ', 'owned or handled by ') + deptName(ctx, d));
    if (m.ownReports) scope.push(tr('本人上报', 'own reports'));
    const groups = m.groups.map((g) => h('div', null, h('code', null, g.group), ' ', h('span', { className: `acc acc-${g.access}` }, nameOf(g.access)),
      g.visibleIn.length ? ` (${tr('授权可见：', 'visible by grant in ')}${g.visibleIn.map((j) => jurName(ctx, j)).join(', ')})` : ''));
    return [nameOf(ds.name), scope.length ? scope.join('；') : tr('无', 'none'), groups, m.actions.join(', ') || '—', m.grantIds.length ? String(m.grantIds.length) : '—'];
  });
  main.appendChild(table(tr('我现在能看到的数据', 'What I can see now'),
    [tr('数据集', 'Dataset'), tr('行范围', 'Rows'), tr('字段组', 'Field groups'), tr('操作', 'Actions'), tr('依据的授权', 'Grants used')], rows, { id: 'my-access' }));
}
